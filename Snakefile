# trainplan: every sweep in sweeps/ -> Parquet tables, figures and an HTML + PDF report.
#
#   snakemake --cores 8                       build every report (profiles/default applies)
#   snakemake --cores 8 --config sweeps_dir=my_sweeps reports_dir=my_reports
#   snakemake --directory .test --cores 2     the test configuration CI runs
#   snakemake --workflow-profile workflow/profiles/slurm   the same on a SLURM cluster
#
# Stages (one rules file each): grid (shard plan, checked at load), model (evaluate shards),
# analysis (combine, recommendations), figures, report (HTML/PDF, validation, index).

from snakemake.utils import validate


configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/grid.smk"
include: "workflow/rules/model.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        expand(f"{REPORTS}/{{sweep}}/report.html", sweep=SWEEPS),
        expand(f"{REPORTS}/{{sweep}}/report.pdf", sweep=SWEEPS),
        f"{REPORTS}/index.html",
    default_target: True
