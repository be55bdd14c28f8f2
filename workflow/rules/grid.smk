# Stage 1: the grid. The sweeps were checked and cut into shards when the workflow loaded
# (common.smk); this rule records the plan next to the outputs.


rule plan:
    input:
        sweep_file,
    output:
        f"{REPORTS}/{{sweep}}/plan.txt",
    log:
        f"{LOGS}/{{sweep}}/plan.log",
    shell:
        "{TRAINPLAN} check {input} > {output}.tmp 2> {log} && mv {output}.tmp {output}"
