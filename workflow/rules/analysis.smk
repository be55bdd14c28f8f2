# Stage 3: combine the shards into the final tables, then compute what they say.


def _combine_inputs(wildcards):
    ids = shard_ids(wildcards.sweep)
    inputs = {
        "summaries": [f"{REPORTS}/{wildcards.sweep}/shards/{i}.parquet" for i in ids],
        "counts": [f"{REPORTS}/{wildcards.sweep}/shards/{i}.json" for i in ids],
    }
    if wildcards.sweep in KEEPS_ROWS:
        inputs["points"] = [f"{REPORTS}/{wildcards.sweep}/points/shard={i}" for i in ids]
    return inputs


rule combine:
    input:
        unpack(_combine_inputs),
    output:
        best=f"{REPORTS}/{{sweep}}/best.parquet",
        tp_pp=f"{REPORTS}/{{sweep}}/tp_pp.parquet",
        pareto=f"{REPORTS}/{{sweep}}/pareto.parquet",
        counts=f"{REPORTS}/{{sweep}}/counts.json",
    log:
        f"{LOGS}/{{sweep}}/combine.log",
    shell:
        "{TRAINPLAN} combine {input.summaries:q} --counts {input.counts:q} --best {output.best:q} "
        "--tp-pp {output.tp_pp:q} --pareto {output.pareto:q} --counts-out {output.counts:q} "
        "> {log:q} 2>&1"


rule analyse:
    input:
        sweep=sweep_file,
        best=f"{REPORTS}/{{sweep}}/best.parquet",
        counts=f"{REPORTS}/{{sweep}}/counts.json",
    output:
        f"{REPORTS}/{{sweep}}/analysis.json",
    log:
        f"{LOGS}/{{sweep}}/analyse.log",
    shell:
        "{TRAINPLAN} analyse {input.sweep} --tables {REPORTS}/{wildcards.sweep} "
        "--out {output} > {log} 2>&1"
