# Stage 1: the grid. The sweeps were checked and cut into shards when the workflow loaded
# (common.smk); this rule records the plan next to the outputs. Its command names the
# fingerprint of trainplan's code (TRAINPLAN_CODE, an unused variable of the shell), so that
# Snakemake's code trigger re-plans, and re-makes, every sweep when trainplan changes.


rule plan:
    input:
        sweep=sweep_file,
    output:
        plan=f"{REPORTS}/{{sweep}}/plan.txt",
    log:
        f"{LOGS}/{{sweep}}/plan.log",
    benchmark:
        f"{LOGS}/{{sweep}}/plan.benchmark.tsv"
    resources:
        mem_mb=1024,
        runtime=10,
    shell:
        f"TRAINPLAN_CODE={CODE_FINGERPRINT[:16]} {TRAINPLAN}"
        " check {input.sweep:q} > {output.plan:q}.tmp 2> {log:q} "
        "&& mv {output.plan:q}.tmp {output.plan:q}"
