# Stage 5: the model-accuracy table (shared by every report), each sweep's HTML and PDF,
# and the index linking them.


rule validation_table:
    input:
        runs=config["validation_runs"] or [],
    output:
        table=f"{REPORTS}/validation/validation.parquet",
        text=f"{REPORTS}/validation/validation.txt",
        json=f"{REPORTS}/validation/validation.json",
    log:
        f"{LOGS}/validation.log",
    params:
        runs=f"--runs {config['validation_runs']}" if config["validation_runs"] else "",
    shell:
        "{TRAINPLAN} validation-table {params.runs} --out {output.table} --text {output.text} "
        "--json {output.json} "
        "> {log} 2>&1"


rule report:
    input:
        analysis=f"{REPORTS}/{{sweep}}/analysis.json",
        figures=f"{REPORTS}/{{sweep}}/figures.json",
        figure_dir=f"{REPORTS}/{{sweep}}/figures",
        validation=f"{REPORTS}/validation/validation.json",
    output:
        html=f"{REPORTS}/{{sweep}}/report.html",
        pdf=f"{REPORTS}/{{sweep}}/report.pdf",
    log:
        f"{LOGS}/{{sweep}}/report.log",
    shell:
        "{TRAINPLAN} report --analysis {input.analysis} --figures {input.figures} "
        "--validation {input.validation} --html {output.html} --pdf {output.pdf} > {log} 2>&1"


rule index:
    input:
        analyses=expand(f"{REPORTS}/{{sweep}}/analysis.json", sweep=SWEEPS),
        reports=expand(f"{REPORTS}/{{sweep}}/report.html", sweep=SWEEPS),
    output:
        f"{REPORTS}/index.html",
    log:
        f"{LOGS}/index.log",
    shell:
        "{TRAINPLAN} index {input.analyses} --out {output} > {log} 2>&1"
