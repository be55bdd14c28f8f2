# Stage 3: combine the shards into the final tables, then compute what they say.


rule combine:
    input:
        unpack(combine_inputs),
    output:
        best=f"{REPORTS}/{{sweep}}/best.parquet",
        tp_pp=f"{REPORTS}/{{sweep}}/tp_pp.parquet",
        pareto=f"{REPORTS}/{{sweep}}/pareto.parquet",
        counts=f"{REPORTS}/{{sweep}}/counts.json",
    log:
        f"{LOGS}/{{sweep}}/combine.log",
    benchmark:
        f"{LOGS}/{{sweep}}/combine.benchmark.tsv"
    resources:
        mem_mb=2048,
        runtime=30,
    shell:
        f"{TRAINPLAN}" " combine {input.summaries:q} --counts {input.counts:q} "
        "--best {output.best:q} --tp-pp {output.tp_pp:q} --pareto {output.pareto:q} "
        "--counts-out {output.counts:q} > {log:q} 2>&1"


rule analyse:
    input:
        sweep=sweep_file,
        best=rules.combine.output.best,
        counts=rules.combine.output.counts,
    output:
        analysis=f"{REPORTS}/{{sweep}}/analysis.json",
    log:
        f"{LOGS}/{{sweep}}/analyse.log",
    benchmark:
        f"{LOGS}/{{sweep}}/analyse.benchmark.tsv"
    resources:
        mem_mb=1024,
        runtime=10,
    shell:
        f"{TRAINPLAN}" " analyse {input.sweep:q} --best {input.best:q} --counts {input.counts:q} "
        "--out {output.analysis:q} > {log:q} 2>&1"
