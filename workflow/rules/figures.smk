# Stage 4: figures, from the combined tables only (never from every point).


rule figures:
    input:
        best=rules.combine.output.best,
        tp_pp=rules.combine.output.tp_pp,
        pareto=rules.combine.output.pareto,
        analysis=rules.analyse.output.analysis,
    output:
        figures=directory(f"{REPORTS}/{{sweep}}/figures"),
        manifest=f"{REPORTS}/{{sweep}}/figures.json",
    log:
        f"{LOGS}/{{sweep}}/figures.log",
    benchmark:
        f"{LOGS}/{{sweep}}/figures.benchmark.tsv"
    resources:
        mem_mb=1024,
        runtime=10,
    shell:
        f"{TRAINPLAN}" " figures --best {input.best:q} --tp-pp {input.tp_pp:q} "
        "--pareto {input.pareto:q} --analysis {input.analysis:q} "
        "--out-dir {output.figures:q} --manifest {output.manifest:q} > {log:q} 2>&1"
