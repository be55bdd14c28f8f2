# Stage 2: evaluate the grid, one job per shard. A shard keeps the candidate rows for the
# summaries; sweeps that keep rows also write their part of the points/ dataset.


def _rows_sweeps():
    return "|".join(KEEPS_ROWS) if KEEPS_ROWS else "(?!)"


rule evaluate_shard_rows:
    input:
        sweep=sweep_file,
        plan=f"{REPORTS}/{{sweep}}/plan.txt",
    output:
        summary=temp(f"{REPORTS}/{{sweep}}/shards/{{shard}}.parquet"),
        counts=temp(f"{REPORTS}/{{sweep}}/shards/{{shard}}.json"),
        points=directory(f"{REPORTS}/{{sweep}}/points/shard={{shard}}"),
    wildcard_constraints:
        sweep=_rows_sweeps(),
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
        "{TRAINPLAN} shard {input.sweep} --shard $((10#{wildcards.shard})) "
        "--summary {output.summary} --counts {output.counts} --points {output.points} > {log} 2>&1"


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
        "{TRAINPLAN} shard {input.sweep} --shard $((10#{wildcards.shard})) "
        "--summary {output.summary} --counts {output.counts} > {log} 2>&1"


ruleorder: evaluate_shard_rows > evaluate_shard
