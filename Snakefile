# trainplan: every sweep in sweeps/ -> Parquet tables, figures and an HTML + PDF report.
#
#   snakemake --cores 8                       build every report (profiles/default applies)
#   snakemake --cores 8 --config sweeps_dir=my_sweeps reports_dir=my_reports
#   snakemake --directory .test --cores 2     the test configuration CI runs
#   snakemake --workflow-profile workflow/profiles/slurm   the same on a SLURM cluster
#   snakemake -s /path/to/Snakefile --cores 8  from a folder of your own: its config/config.yaml
#                                             if it has one, else the workflow's; its sweeps/
#
# Stages (one rules file each): grid (shard plan, checked at load), model (evaluate shards),
# analysis (combine, recommendations), figures, report (HTML/PDF, validation, index).

from pathlib import Path

from snakemake.utils import validate

CONFIG = "config/config.yaml"


configfile: CONFIG if Path(CONFIG).is_file() else f"{workflow.basedir}/{CONFIG}"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/grid.smk"
include: "workflow/rules/model.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        [every_output(sweep) for sweep in SWEEPS],
        rules.validation_table.output,
        f"{REPORTS}/index.html",
    default_target: True
