# Stage 5: the model-accuracy table (shared by every report), each sweep's HTML and PDF,
# and the index linking them.


rule validation_table:
    input:
        runs=config["validation_runs"] or [],
        moe_runs=config.get("validation_moe_runs") or [],
    output:
        table=f"{REPORTS}/validation/validation.parquet",
        text=f"{REPORTS}/validation/validation.txt",
        json=f"{REPORTS}/validation/validation.json",
    log:
        f"{LOGS}/validation.log",
    benchmark:
        f"{LOGS}/validation.benchmark.tsv"
    resources:
        mem_mb=1024,
        runtime=10,
    shell:
        f"{TRAINPLAN} validation-table"
        f"{' --runs {input.runs:q}' if config['validation_runs'] else ''}"
        f"{' --moe-runs {input.moe_runs:q}' if config.get('validation_moe_runs') else ''}"
        " --out {output.table:q} "
        "--text {output.text:q} --json {output.json:q} > {log:q} 2>&1"


rule report:
    input:
        analysis=rules.analyse.output.analysis,
        best=rules.combine.output.best,
        figures=rules.figures.output.manifest,
        figure_dir=rules.figures.output.figures,
        validation=rules.validation_table.output.json,
    output:
        html=f"{REPORTS}/{{sweep}}/report.html",
        pdf=f"{REPORTS}/{{sweep}}/report.pdf",
        csv=f"{REPORTS}/{{sweep}}/scenarios.csv",
        launch=f"{REPORTS}/{{sweep}}/launch.zip",
    log:
        f"{LOGS}/{{sweep}}/report.log",
    benchmark:
        f"{LOGS}/{{sweep}}/report.benchmark.tsv"
    resources:
        mem_mb=2048,
        runtime=20,
    shell:
        f"{TRAINPLAN}" " report --analysis {input.analysis:q} --figures {input.figures:q} "
        "--validation {input.validation:q} --html {output.html:q} --pdf {output.pdf:q} "
        "--csv {output.csv:q} --best {input.best:q} --launch-zip {output.launch:q} "
        "> {log:q} 2>&1"


rule index:
    input:
        analyses=expand(rules.analyse.output.analysis, sweep=SWEEPS),
        reports=expand(rules.report.output.html, sweep=SWEEPS),
    output:
        index=f"{REPORTS}/index.html",
    log:
        f"{LOGS}/index.log",
    benchmark:
        f"{LOGS}/index.benchmark.tsv"
    resources:
        mem_mb=1024,
        runtime=10,
    shell:
        f"{TRAINPLAN}" " index {input.analyses:q} --out {output.index:q} > {log:q} 2>&1"
