# Stage 4: figures, from the combined tables only (never from every point).


rule figures:
    input:
        best=f"{REPORTS}/{{sweep}}/best.parquet",
        tp_pp=f"{REPORTS}/{{sweep}}/tp_pp.parquet",
        pareto=f"{REPORTS}/{{sweep}}/pareto.parquet",
        analysis=f"{REPORTS}/{{sweep}}/analysis.json",
    output:
        figures=directory(f"{REPORTS}/{{sweep}}/figures"),
        manifest=f"{REPORTS}/{{sweep}}/figures.json",
    log:
        f"{LOGS}/{{sweep}}/figures.log",
    shell:
        "{TRAINPLAN} figures --tables {REPORTS}/{wildcards.sweep} --analysis {input.analysis} "
        "--out-dir {output.figures} --manifest {output.manifest} > {log} 2>&1"
