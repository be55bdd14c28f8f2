# Stage 2: evaluate the grid, one job per shard. A shard keeps the candidate rows for the
# summaries; sweeps that keep rows also write their part of the points/ dataset.


rule evaluate_shard_rows:
    input:
        sweep=sweep_file,
        plan=f"{REPORTS}/{{sweep}}/plan.txt",
    output:
        summary=temp(f"{REPORTS}/{{sweep}}/shards/{{shard}}.parquet"),
        counts=temp(f"{REPORTS}/{{sweep}}/shards/{{shard}}.json"),
        points=directory(f"{REPORTS}/{{sweep}}/points/shard={{shard}}"),
    wildcard_constraints:
        sweep=rows_sweeps_pattern(),
    log:
        f"{LOGS}/{{sweep}}/shard-{{shard}}.log",
    benchmark:
        f"{LOGS}/{{sweep}}/shard-{{shard}}.benchmark.tsv"
    resources:
        mem_mb=2048,
        runtime=30,
    group:
        "shards"
    shell:
        f"{TRAINPLAN}" " shard {input.sweep:q} --shard {wildcards.shard:q} "
        "--summary {output.summary:q} --counts {output.counts:q} --points {output.points:q} "
        "> {log:q} 2>&1"


rule evaluate_shard:
    input:
        sweep=sweep_file,
        plan=f"{REPORTS}/{{sweep}}/plan.txt",
    output:
        summary=temp(f"{REPORTS}/{{sweep}}/shards/{{shard}}.parquet"),
        counts=temp(f"{REPORTS}/{{sweep}}/shards/{{shard}}.json"),
    log:
        f"{LOGS}/{{sweep}}/shard-{{shard}}.log",
    benchmark:
        f"{LOGS}/{{sweep}}/shard-{{shard}}.benchmark.tsv"
    resources:
        mem_mb=2048,
        runtime=30,
    group:
        "shards"
    shell:
        f"{TRAINPLAN}" " shard {input.sweep:q} --shard {wildcards.shard:q} "
        "--summary {output.summary:q} --counts {output.counts:q} > {log:q} 2>&1"


ruleorder: evaluate_shard_rows > evaluate_shard
