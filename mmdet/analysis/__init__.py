"""Analysis on top of ``mmdet.apis``: Params and FLOPs (``complexity``),
inference speed (``benchmark``), re-evaluating saved results
(``reevaluate``) and the ODConv results table (``odconv_table``). The
command-line front ends are under ``tools/analysis_tools/``."""
