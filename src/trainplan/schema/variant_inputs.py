"""Inputs of attention variants and mixture-of-experts layers.

Their defaults describe a dense model with :math:`h/a`-wide heads, so a dense model that
names none of them is unchanged; the model catalog fills them for the models that have
them (:mod:`trainplan.catalog`).
"""

from __future__ import annotations

from trainplan.schema.input_spec import MODEL as _ARCH
from trainplan.schema.input_spec import Input

VARIANT_INPUTS: tuple[Input, ...] = (
    Input("head_dim", "int", "Width of one attention head d (0: hidden / n_heads; Qwen3 and "
          "gpt-oss use wider attention than their hidden size)", minimum=0, default=0,
          group=_ARCH, from_catalog=True),
    Input("qk_norm", "bool", "RMSNorm on each query and key head (Qwen3)", default=False,
          group=_ARCH, from_catalog=True),
    Input("kv_lora_rank", "int", "Multi-head latent attention: key/value latent width "
          "(0: no latent attention)", minimum=0, default=0, group=_ARCH, from_catalog=True,
          source="DeepSeek-V2 (arXiv:2405.04434) Sec. 2.1"),
    Input("q_lora_rank", "int", "Multi-head latent attention: query latent width (0: full-rank "
          "query projection)", minimum=0, default=0, group=_ARCH, from_catalog=True),
    Input("qk_nope_head_dim", "int", "Multi-head latent attention: query/key head width "
          "without rotary embedding", minimum=0, default=0, group=_ARCH, from_catalog=True),
    Input("qk_rope_head_dim", "int", "Multi-head latent attention: query/key head width with "
          "rotary embedding (the key part is shared by the heads)", minimum=0, default=0,
          group=_ARCH, from_catalog=True),
    Input("v_head_dim", "int", "Multi-head latent attention: value head width", minimum=0,
          default=0, group=_ARCH, from_catalog=True),
    Input("sliding_window", "int", "Local attention: keys a query attends to in the layers "
          "with a window (0: every layer attends to the whole sequence)", unit="tokens",
          minimum=0, default=0, group=_ARCH, from_catalog=True,
          source="gpt-oss model card (128-token window on alternate layers); Llama 4 "
          "attention_chunk_size 8192"),
    Input("sliding_window_share", "float", "Share of the layers with local attention (gpt-oss: "
          "0.5, alternating; Llama 4: 0.75, three of four)", minimum=0, maximum=1, default=1.0,
          group=_ARCH, from_catalog=True),
    Input("chunked_attention", "bool", "The local window is a chunk (queries attend within "
          "their chunk of sliding_window tokens, Llama 4) rather than the preceding tokens",
          default=False, group=_ARCH, from_catalog=True),
    Input("n_experts", "int", "Routed experts per mixture-of-experts layer (0: dense model)",
          minimum=0, default=0, group=_ARCH, from_catalog=True),
    Input("top_k", "int", "Routed experts each token uses", minimum=1, default=1,
          group=_ARCH, from_catalog=True),
    Input("moe_ffn_hidden", "int", "Inner width of one routed expert (0: ffn_hidden)",
          minimum=0, default=0, group=_ARCH, from_catalog=True),
    Input("n_shared_experts", "int", "Shared experts every token uses (DeepSeek, Llama 4)",
          minimum=0, default=0, group=_ARCH, from_catalog=True),
    Input("shared_ffn_hidden", "int", "Inner width of one shared expert (0: moe_ffn_hidden)",
          minimum=0, default=0, group=_ARCH, from_catalog=True),
    Input("first_dense_layers", "int", "Leading layers without experts (DeepSeek-V3: 3)",
          minimum=0, default=0, group=_ARCH, from_catalog=True),
    Input("moe_layer_step", "int", "Every m-th layer after the leading dense ones has experts "
          "(Llama 4 Maverick: 2)", minimum=1, default=1, group=_ARCH, from_catalog=True),
    Input("mtp_layers", "int", "Multi-token-prediction modules trained with the model (each "
          "one more layer, a 2h x h projection and another output layer on the last stage; "
          "not in params_total, as DeepSeek-V3's 671 B leaves its module out)", minimum=0,
          default=0, group=_ARCH, from_catalog=True,
          source="DeepSeek-V3 (arXiv:2412.19437) Sec. 2.2: one MTP module (D = 1)"),
    Input("router_bias", "bool", "Router with a bias per expert", default=False, group=_ARCH,
          from_catalog=True),
    Input("expert_bias", "bool", "Expert projections with biases (gpt-oss)", default=False,
          group=_ARCH, from_catalog=True),
)
"""Attention-variant and expert inputs, listed after the dense architecture."""
