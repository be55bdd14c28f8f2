"""The inputs of the model: names, units, allowed values, defaults and their sources.

This table is the single place where a default lives; the resolver
(:mod:`trainplan.schema.resolve`) checks values against it.
"""

from __future__ import annotations

from trainplan import units
from trainplan.model.choices import RECOMPUTE_NAMES
from trainplan.model.collectives import ALGORITHM_NAMES
from trainplan.model.kernels import FP8_RECIPES
from trainplan.model.pipeline import SCHEDULE_NAMES
from trainplan.schema.budget_inputs import BUDGET_INPUTS
from trainplan.schema.input_spec import EFFICIENCY as _EFF
from trainplan.schema.input_spec import HARDWARE as _HW
from trainplan.schema.input_spec import JOB as _JOB
from trainplan.schema.input_spec import MODEL as _ARCH
from trainplan.schema.input_spec import Input, InputError
from trainplan.schema.variant_inputs import VARIANT_INPUTS

PRECISION_NAMES = ("bf16", "fp16", "fp8")
MOE_DISPATCHERS = ("alltoall", "deepep")

__all__ = ["ARCH_COLUMNS", "INPUTS", "INPUT_BY_NAME", "LAYOUT_AXES", "MOE_DISPATCHERS",
           "PRECISION_NAMES", "Input", "InputError"]

INPUTS: tuple[Input, ...] = (
    # --- model architecture (from the model catalog when `model` names an entry) ---
    Input("model", "name", "Model catalog entry (fills every architecture column left blank)",
          group=_ARCH, default=""),
    Input("n_layers", "int", "Transformer layers L", minimum=1, group=_ARCH, from_catalog=True),
    Input("hidden", "int", "Hidden size h", minimum=1, group=_ARCH, from_catalog=True),
    Input("n_heads", "int", "Attention (query) heads a", minimum=1, group=_ARCH,
          from_catalog=True),
    Input("n_kv_heads", "int", "Key/value heads (GQA/MQA); = n_heads for multi-head attention",
          minimum=1, group=_ARCH, from_catalog=True),
    Input("ffn_hidden", "int", "MLP inner width f", minimum=1, group=_ARCH, from_catalog=True),
    Input("gated_mlp", "bool", "Gated MLP (SwiGLU: three weight matrices)", group=_ARCH,
          from_catalog=True),
    Input("vocab", "int", "Vocabulary size V (as padded by the framework)", minimum=1,
          group=_ARCH, from_catalog=True),
    Input("tied_embeddings", "bool", "Output layer shares the input embedding", group=_ARCH,
          from_catalog=True),
    Input("linear_bias", "bool", "Linear layers have biases (GPT: yes; Llama: no)",
          group=_ARCH, from_catalog=True),
    Input("position_embedding", "choice", "learned (absolute, s*h parameters), rope (rotary) "
          "or alibi (no parameters)", choices=("learned", "rope", "alibi"), group=_ARCH,
          from_catalog=True),
    Input("norm", "choice", "layernorm (2h parameters) or rmsnorm (h)",
          choices=("layernorm", "rmsnorm"), group=_ARCH, from_catalog=True),
    Input("dropout", "bool", "Dropout layers present (their masks are stored)", group=_ARCH,
          from_catalog=True),
    *VARIANT_INPUTS,
    # --- training job ---
    Input("seq_len", "int", "Sequence length s", unit="tokens", minimum=1, group=_JOB,
          from_catalog=True),
    Input("global_batch", "int", "Global batch per optimizer step", unit="sequences",
          minimum=1, group=_JOB),
    Input("precision", "choice", "Training precision of the linear layers (fp8: linear layers "
          "in FP8, attention and element-wise work in 16 bits)", choices=PRECISION_NAMES,
          default="bf16", group=_JOB),
    Input("tokens_budget", "float", "Tokens to train on (for time, GPU-hours, cost, energy)",
          unit="tokens", minimum=0, default=float("nan"), group=_JOB),
    Input("price_per_gpu_hour_usd", "float", "Price of one GPU-hour (default: the GPU "
          "catalog's indicative 2026 on-demand cloud price)", unit="USD/GPU-hour", minimum=0,
          group=_JOB, from_catalog=True),
    # --- hardware ---
    Input("gpu", "name", "Accelerator catalog entry", group=_HW),
    Input("n_gpus", "int", "GPUs in the job (tp*pp*cp*dp)", minimum=1, group=_HW),
    Input("memory_gib", "float", "GPU memory capacity as the driver reports it", unit="GiB",
          minimum=0, group=_HW, from_catalog=True),
    Input("power_limit_w", "float", "Board power limit below the rated power (nvidia-smi "
          "-pl); not set: the rated power", unit="W", minimum=0, default=float("nan"),
          group=_HW),
    Input("static_power_fraction", "float", "Share of the rated board power that does not "
          "fall with the clock under a power limit (leakage, memory, fans)", minimum=0,
          maximum=0.95, default=0.3, group=_EFF,
          source="assumption: leakage is about a third of a modern GPU's power (Kim et al., "
          "IEEE Computer 36(12), 2003, for the scaling of static power); only used when "
          "power_limit_w is set"),
    Input("scaleup_gbyte_s", "float", "Scale-up (NVLink/Infinity Fabric) bandwidth per GPU, "
          "one direction", unit="GB/s", minimum=0, group=_HW, from_catalog=True),
    Input("host_link_gbyte_s", "float", "Achievable GPU-host copy bandwidth per GPU, one "
          "direction (PCIe, or NVLink-C2C to a Grace CPU)", unit="GB/s", minimum=0,
          group=_HW, from_catalog=True),
    Input("scaleup_domain_gpus", "int", "GPUs sharing one scale-up domain (8 for HGX/DGX, "
          "72 for NVL72)", minimum=1, group=_HW, from_catalog=True),
    Input("scaleout_gbit_s_per_node", "float", "Scale-out (InfiniBand/RoCE) bandwidth of one "
          "node, all its NICs, one direction", unit="Gb/s", minimum=0, group=_HW,
          from_catalog=True),
    Input("gpus_per_node", "int", "GPUs per node (they share the node's NICs)", minimum=1,
          group=_HW, from_catalog=True),
    Input("scaleup_latency_s", "float", "Latency of one collective step inside the scale-up "
          "domain", unit="s", minimum=0, default=3e-6, group=_HW,
          source="Azure AI-benchmarking-guide ND A100 v4: 8-GPU NCCL all-reduce of 1 KiB takes "
          "about 45 us, i.e. about 3 us per step of a 14-step ring"),
    Input("scaleout_latency_s", "float", "Latency of one collective step across nodes",
          unit="s", minimum=0, default=6e-6, group=_HW,
          source="NVIDIA/nccl issue #1244: 2-node NDR small all-reduce 46-48 us over about "
          "8 tree steps"),
    # --- parallel layout ---
    Input("tp", "int", "Tensor-parallel degree", minimum=1, default=1),
    Input("pp", "int", "Pipeline-parallel degree", minimum=1, default=1),
    Input("dp", "int", "Data-parallel degree (blank: n_gpus/(tp*pp*cp))", minimum=1),
    Input("cp", "int", "Context-parallel degree (ring attention)", minimum=1, default=1),
    Input("vpp", "int", "Virtual pipeline stages (model chunks) per GPU", minimum=1, default=1),
    Input("ep", "int", "Expert-parallel degree: the routed experts of a layer are split over "
          "ep GPUs of the data- and context-parallel ranks", minimum=1, default=1,
          source="Megatron-Core --expert-model-parallel-size"),
    Input("etp", "int", "Expert tensor-parallel degree: each expert's matrices are split over "
          "etp GPUs (1: whole experts, Megatron-Core's advice for fine-grained experts)",
          minimum=1, default=1, source="Megatron-Core --expert-tensor-parallel-size"),
    Input("moe_dispatcher", "choice", "Token dispatcher of the expert-parallel group: "
          "alltoall (NCCL all-to-all: every routed copy travels on its own) or deepep "
          "(one copy per remote domain over the NICs, forwarded over NVLink)",
          choices=MOE_DISPATCHERS, default="alltoall",
          source="Megatron-Core --moe-token-dispatcher-type alltoall | flex with "
          "--moe-enable-deepep; deepseek-ai/DeepEP"),
    Input("moe_router_group_topk", "int", "Group-limited routing: a token's experts lie in at "
          "most this many scale-up domains (0: no limit; DeepSeek-V3: 4 nodes)", minimum=0,
          default=0, source="DeepSeek-V3 (arXiv:2412.19437) Sec. 2.1.2; Megatron-Core "
          "--moe-router-group-topk with --moe-router-num-groups"),
    Input("moe_a2a_overlap", "bool", "The expert-parallel all-to-all of one micro-batch "
          "overlaps the computation of another (DeepSeek DualPipe, Megatron-Core "
          "--overlap-moe-expert-parallel-comm)", default=False,
          source="DeepSeek-V3 (arXiv:2412.19437) Sec. 3.2.1; Megatron-Core MoE documentation"),
    Input("recompute_moe", "bool", "Recompute each MoE block (router, dispatch, experts, "
          "combine) in the backward instead of keeping its activations, with recompute none "
          "or selective (a model with experts)", default=False,
          source="Megatron-Core --recompute-modules moe"),
    Input("micro_batch", "int", "Micro-batch size", unit="sequences", minimum=1, default=1),
    Input("zero_stage", "int", "ZeRO stage (1 = Megatron distributed optimizer)", minimum=0,
          maximum=3, default=1),
    Input("recompute", "choice", "Activation recomputation", choices=tuple(RECOMPUTE_NAMES),
          default="none"),
    Input("seq_parallel", "bool", "Sequence parallelism (splits norms/dropout over tp)",
          default=True),
    Input("flash_attention", "bool", "Fused attention kernel (FlashAttention): no s*s scores "
          "stored", default=True),
    Input("schedule", "choice", "Pipeline schedule (auto: interleaved when vpp>1, else 1f1b)",
          choices=("auto", *SCHEDULE_NAMES), default="auto"),
    Input("dp_algorithm", "choice", "Collective algorithm of the data-parallel group",
          choices=tuple(ALGORITHM_NAMES), default="ring"),
    Input("tp_algorithm", "choice", "Collective algorithm of the tensor-parallel group",
          choices=tuple(ALGORITHM_NAMES), default="ring"),
    Input("overlap_grad_reduce", "bool", "Gradient reduction overlaps the last backward",
          default=True, source="Megatron-Core --overlap-grad-reduce; PyTorch DDP buckets"),
    Input("overlap_param_gather", "bool", "Distributed-optimizer parameter all-gather "
          "overlaps the next forward", default=True,
          source="Megatron-Core --overlap-param-gather"),
    Input("zero3_overlap", "bool", "ZeRO-3 gathers and reduce-scatters run beside compute "
          "(false: every gather synchronises the device first)", default=True,
          source="DeepSpeed before #1188 (2021): each all_gather calls torch.cuda.synchronize()"),
    Input("tp_async_backward", "bool", "Tensor-parallel all-reduce of input gradients runs "
          "while the weight-gradient GEMM computes", default=True,
          source="Megatron-LM --async-tensor-model-parallel-allreduce (default since 2021-08); "
          "Korthikanti et al. 2022 Sec. 5"),
    Input("tp_comm_overlap", "bool", "Tensor-parallel communication overlapped with the "
          "adjacent GEMMs (userbuffers)", default=False,
          source="Megatron-Core --tp-comm-overlap (Transformer Engine)"),
    Input("zero3_reshard_after_forward", "bool", "ZeRO-3 / FSDP frees the gathered parameters "
          "after each forward and gathers them again for every micro-batch; false: they stay "
          "gathered for the whole step (one gather and one reduce-scatter per step)",
          default=True, source="PyTorch FSDP2 fully_shard(reshard_after_forward=...); "
          "TorchTitan sets it false when pipelining; Llama 3 (arXiv:2407.21783 Sec. 3.3.2): "
          "weights are not resharded after the forward"),
    Input("framework", "name", "Training framework (frameworks catalog name or alias): sets "
          "its overlaps, attention kernel, pipeline sharding, gradient/optimizer byte counts "
          "and allocator reserve where the configuration leaves them blank; not set: the "
          "input defaults",
          default="", group=_JOB, source="src/trainplan/catalog/data/frameworks.csv"),
    Input("fp8_recipe", "choice", "FP8 scaling recipe (with precision fp8): delayed "
          "(Transformer Engine DelayedScaling), current (per-tensor, torchao tensorwise), "
          "rowwise, mxfp8 (Blackwell block scaling); sets the HBM traffic of the casts",
          choices=FP8_RECIPES, default="delayed",
          source="NVIDIA Transformer Engine recipes; torchao float8 (tensorwise, rowwise)"),
    Input("fp8_param_gather", "bool", "ZeRO-3 / FSDP gathers the FP8 copy of the weights "
          "(1 byte per parameter) when training in FP8", default=False,
          source="TorchTitan [float8] enable_fsdp_float8_all_gather; Megatron-Core "
          "--fp8-param-gather"),
    Input("pipeline_split_by_cost", "bool", "An uneven pipeline split takes the layers short "
          "from the last stage as its output layers and MTP modules are worth (else one "
          "from the last, one from the first)", default=True,
          source="Megatron-Core --pipeline-model-parallel-layout (Megatron-Bridge DeepSeek-V3 "
          "recipes); TorchTitan pipeline_parallel_last_stage_less_layers"),
    Input("zero3_recompute_regather", "bool", "ZeRO-3 gathers a fully recomputed layer's "
          "weights again for its backward (3 gathers per micro-batch, not 2)", default=False,
          source="DeepSpeed issue #4784 (the recomputed forward runs the pre-forward gather); "
          "fairscale #777 and Megatron-LM #6153: FSDP(checkpoint(layer)) and Megatron-FSDP "
          "gather once for the recomputation and the backward"),
    Input("fp32_sharded_params", "bool", "Under ZeRO-3 the sharded weights are kept in fp32 "
          "and are the optimizer's master copy (PyTorch FSDP mixed precision): no 16-bit "
          "shard beside them, and the optimizer states hold 4 bytes fewer per parameter",
          default=False,
          source="PyTorch FSDP MixedPrecision / FSDP2 MixedPrecisionPolicy: the sharded "
          "parameters keep their fp32 dtype and param_dtype only sets the all-gathered copy; "
          "the optimizer steps the fp32 shard (torchtitan job config mixed_precision_param; "
          "Composer get_mixed_precision)"),
    Input("portable_attention", "bool", "Fused attention from a framework-portable kernel "
          "(PyTorch SDPA / FlashAttention-2) instead of the GPU's best (FlashAttention-3, "
          "cuDNN): the GPU catalog's attention_efficiency_portable applies", default=False,
          source="frameworks catalog (TorchTitan 2024, llm-foundry, DeepSpeed); pytorch/"
          "benchmark tritonbench on H100: torch SDPA 288-304 TFLOP/s, FlashAttention-3 "
          "614-621 at 8-16k tokens"),
    Input("selective_op_sac", "bool", "Selective recomputation is operator-level: it keeps "
          "the outputs of every other matrix product, of attention and of the tensor-parallel "
          "reduce-scatters and recomputes the rest (TorchTitan's selective_ac_option op; "
          "dense models)", default=False,
          source="pytorch/torchtitan parallelize_llama.py _apply_ac_to_transformer_block "
          "(save list: mm, SDPA, reduce_scatter; every second mm recomputed)"),
    Input("zero3_keep_gathered_with_pipeline", "bool", "With a pipeline, ZeRO-3 / FSDP keeps "
          "the stage's parameters gathered for the whole step whatever "
          "zero3_reshard_after_forward says (TorchTitan's fsdp_reshard_after_forward "
          "'default')", default=False,
          source="pytorch/torchtitan parallelize: reshard_after_forward is false when "
          "pipeline parallelism is on"),
    Input("recompute_fraction", "float", "With full recomputation, the share of each stage's "
          "layers recomputed (the others keep their activations): Megatron --recompute-method "
          "block --recompute-num-layers", minimum=0, maximum=1, default=1.0,
          source="Megatron-LM arguments: --recompute-granularity full --recompute-method block "
          "--recompute-num-layers N checkpoints the first N layers of each stage"),
    Input("activation_offload_fraction", "float", "Share of each stage's layers whose "
          "activations are copied to host memory after their forward and back for their "
          "backward (whole layers; without pipeline parallelism or recomputation)", minimum=0,
          maximum=1, default=0.0,
          source="Megatron-Core --cpu-offloading --cpu-offloading-num-layers N; "
          "Megatron-Bridge GB200 recipes (Llama 3 70B FP8: 40 of 80 layers)"),
    Input("offload_moe_inputs", "bool", "The inputs of the expert GEMMs and of the experts' "
          "activation (the routed copies and the first expert GEMMs' outputs) are copied to "
          "host memory after each MoE block's forward and back for its backward (with "
          "pipeline parallelism; not with full or whole-MoE-block recomputation)",
          default=False,
          source="Megatron-Core --fine-grained-activation-offloading --offload-modules "
          "expert_fc1 moe_act (Megatron-MoE-ModelZoo Qwen3-235B on GB200)"),
    Input("sharded_pipeline", "bool", "The framework combines ZeRO-2/3 (FSDP) sharding with "
          "pipeline parallelism", default=False,
          source="TorchTitan (arXiv:2410.06511 Sec. 3.1) composes FSDP2 with PP; DeepSpeed "
          "and Megatron-LM refuse ZeRO-2/3 with a pipeline"),
    # --- efficiencies and byte counts (named, documented, sweepable) ---
    Input("sm_count", "int", "Streaming multiprocessors (compute units)", minimum=1,
          group=_HW, from_catalog=True),
    Input("gemm_efficiency_16bit", "float", "Largest achievable fraction of the 16-bit dense "
          "peak for big GEMMs", minimum=0, maximum=1, group=_EFF, from_catalog=True),
    Input("gemm_efficiency_fp8", "float", "Largest achievable fraction of the FP8 dense peak "
          "(blank for GPUs without FP8)", minimum=0, maximum=1, default=float("nan"),
          group=_EFF, from_catalog=True),
    Input("attention_efficiency", "float", "Fraction of the 16-bit peak fused attention reaches "
          "at long sequences (shorter ones: kernels.fused_attention_efficiency)",
          minimum=0, maximum=1, group=_EFF, from_catalog=True),
    Input("gemm_tile_elements", "float", "Output elements of one SM's GEMM tile: a GEMM "
          "whose output is smaller than one tile per SM leaves SMs idle", unit="elements",
          minimum=0, default=32768.0, group=_EFF,
          source="128 x 256, the Hopper tensor-core tile of cuBLAS and CUTLASS; fitted to "
          "published GEMM shape sweeps (Azure AI-benchmarking-guide cuBLASLt: A100 fp16, "
          "H100/H200/GB200/MI300X fp8; pytorch/ao #2427 B200 bf16; pytorch #143465 H100 "
          "torch._scaled_mm): best of 8192-65536, one value for every GPU"),
    Input("gemm_half_k", "float", "GEMM inner dimension at which the main-loop factor halves "
          "the efficiency", unit="elements", minimum=0, default=128.0, group=_EFF,
          source="per-tile prologue and epilogue, fitted to the same GEMM shape sweeps (flat "
          "between 128 and 256); 128 keeps the MAMF best shapes (k down to 1536) within 8 %"),
    Input("sustained_compute_fraction", "float", "Fraction of the isolated-kernel GEMM and "
          "fused-attention throughput a training step sustains (clocks under sustained "
          "power, L2 and memory contention between kernels, launch gaps)", minimum=0,
          maximum=1, default=0.75, group=_EFF,
          fit_grid=(0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0),
          source="fitted to the shipped published runs (trainplan validate --cv source); "
          "the kernel sweeps (tests/data/gemm_benchmarks.csv) level off 5-20 % below the "
          "maximum achievable matmul FLOPS on long kernels, and FlashAttention inside a "
          "training step runs 20-40 % below its isolated figure"),
    Input("grouped_gemm_efficiency", "float", "Throughput of the routed experts' grouped GEMM "
          "as a fraction of one dense GEMM of the same total shape", minimum=0, maximum=1,
          default=0.8, group=_EFF,
          source="NVIDIA/TransformerEngine #2045 (TE 2.7, CUDA 12.9, H100 BF16, the default "
          "multi-stream cuBLAS general_grouped_gemm): (8 groups, 4096, 768, 2048) 627.9 and "
          "(16, 2048, 768, 2048) 553.9 TFLOP/s, 0.84 and 0.74 of the 747 TFLOP/s trainplan's "
          "GEMM model gives the dense (32768, 768, 2048) GEMM; the opt-in CUTLASS kernel "
          "reaches 0.87 and 0.85. Measured on fine-grained 16-bit experts (2,048-4,096 rows each); "
          "applied to every grouped GEMM (FP8 and wide experts included) as an extrapolation"),
    Input("hbm_efficiency", "float", "Achievable fraction of HBM bandwidth for element-wise "
          "kernels", minimum=0, maximum=1, default=0.85, group=_EFF,
          source="Azure AI-benchmarking-guide BabelStream Triad: A100 83 %, H100 89 %, H200 86 %"),
    Input("scaleup_efficiency", "float", "Achievable fraction of scale-up bandwidth for NCCL "
          "collectives", minimum=0, maximum=1, default=0.78, group=_EFF,
          source="nccl-tests all-reduce busbw: 8x A100 231.6 GB/s of 300 (Azure ND A100 v4); "
          "8x H100 ring about 365 GB/s of 450 (NVIDIA/nccl #1455)"),
    Input("scaleout_efficiency", "float", "Achievable fraction of NIC line rate", minimum=0,
          maximum=1, default=0.96, group=_EFF,
          source="NVIDIA/nccl #1576: 192 GB/s all-reduce busbw on DGX A100 with 8x HDR "
          "(200 GB/s); #267: 48-49 GB/s per NDR NIC"),
    Input("overlap_efficiency", "float", "Share of the shorter of an overlapping "
          "communication and its compute window that is hidden", minimum=0, maximum=1, default=0.6,
          group=_EFF, fit_grid=(0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
          source="fitted to the shipped published runs (trainplan validate --cv source); the "
          "component measurement of Lee et al. 2025 (arXiv:2507.03114: on 4 A100, H100, MI250 "
          "and MI210, compute overlapped with collectives runs 18.9 % slower on average and "
          "sequential execution 10.2 % slower than overlapped) implies about 0.4 hidden"),
    Input("grad_bytes_per_param", "float", "Gradient bytes per parameter (2: 16-bit; 4: fp32 "
          "main_grad; 6: 16-bit grad plus fp32 accumulation buffer)", unit="bytes",
          minimum=0, default=2.0, group=_EFF, source="ZeRO paper (arXiv:1910.02054) Sec. 3.1"),
    Input("grad_reduce_bytes_per_param", "float", "Bytes per parameter of the gradient "
          "reduction", unit="bytes", minimum=0, default=2.0, group=_EFF,
          source="16-bit gradient all-reduce (ZeRO paper Sec. 7)"),
    Input("optimizer_bytes_per_param", "float", "Optimizer-state bytes per parameter (K)",
          unit="bytes", minimum=0, default=12.0, group=_EFF,
          source="ZeRO paper Sec. 3.1: mixed-precision Adam K = 12 (fp32 weights, momentum, "
          "variance)"),
    Input("adam_step_bytes_per_param", "float", "HBM traffic of the Adam update per parameter",
          unit="bytes", minimum=0, default=30.0, group=_EFF,
          source="read fp32 weight, gradient, momentum, variance (16); write weight, momentum, "
          "variance (12) and the 16-bit copy (2)"),
    Input("logits_bytes_per_element", "float", "Bytes per logit kept on the last stage",
          unit="bytes", minimum=0, default=6.0, group=_EFF,
          source="16-bit logits plus the fp32 copy the cross-entropy keeps for its backward"),
    Input("cuda_context_bytes", "float", "Memory taken by the CUDA context and kernels",
          unit="bytes", minimum=0, default=float(units.GIB_BYTES), group=_EFF,
          source="S. Bekman, ml-engineering, training/performance 'Preloaded CUDA kernels "
          "memory usage': 0.47-0.92 GiB on A100 with torch 2.1"),
    Input("memory_reserve_fraction", "float", "Share of GPU memory kept free for allocator "
          "fragmentation and transient buffers", minimum=0, maximum=1, default=0.10,
          group=_EFF, source="GMLake (arXiv:2401.08156): PyTorch caching-allocator "
          "fragmentation in LLM training averages about 15 % (up to 33 %); 0.03 with "
          "expandable segments (frameworks.csv: NeMo, TorchTitan; chosen, not fitted)"),
    Input("zero3_max_live_params", "float", "Gathered parameters ZeRO-3 keeps live at once",
          unit="parameters", minimum=0, default=1e9, group=_EFF,
          source="DeepSpeed configuration 'stage3_max_live_parameters' (default 1e9)"),
    Input("zero3_collectives_per_layer", "float", "Separate ZeRO-3 parameter-gather calls per "
          "layer and pass (1: one bucketed gather per layer)", minimum=1, default=1.0,
          group=_EFF, source="PyTorch FSDP and TorchTitan FSDP2 gather one flat parameter per "
          "wrapped layer; DeepSpeed ZeRO-3 in 2021 gathered every parameter tensor separately "
          "(deepspeedai/DeepSpeed #1069; grouped gathers from #1188, 2021-09)"),
    Input("zero3_call_host_s", "float", "Host time of each extra ZeRO-3 collective call (per "
          "parameter, not per layer)", unit="s", minimum=0, default=0.0, group=_EFF, source="#1069 "
          "(#1174: DeepSpeed 0.3.16, 8 A100): 130 us pre-launch, 250 us launch, a sync; 0.5 ms"),
    Input("moe_capacity_factor", "float", "Expert capacity as a multiple of the balanced load: "
          "tokens over it are dropped, experts under it padded (0: dropless, the busiest rank "
          "takes moe_load_imbalance times the mean)", minimum=0, default=0.0, group=_EFF,
          source="Megatron-Core --moe-expert-capacity-factor with --moe-pad-expert-input-to-"
          "capacity; GShard (arXiv:2006.16668) Sec. 2.2"),
    Input("moe_load_imbalance", "float", "Tokens the busiest expert-parallel rank receives "
          "over the mean (1: balanced routing, as forced-balance benchmarks run)", minimum=1,
          default=1.0, group=_EFF,
          source="assumption (balanced); DeepSeek-V3's auxiliary-loss-free balancing keeps "
          "expert loads within a few per cent of the mean on average (arXiv:2412.19437 Sec. "
          "4.5.2); unbalanced routing before convergence can reach 1.5-2"),
    Input("step_overhead_s", "float", "Fixed per-step overhead (data loading, logging)",
          unit="s", minimum=0, default=0.0, group=_EFF),
    *BUDGET_INPUTS,
)

INPUT_BY_NAME = {i.name: i for i in INPUTS}

ARCH_COLUMNS = [i.name for i in INPUTS if i.group == _ARCH and i.name != "model"]

LAYOUT_AXES = frozenset(i.name for i in INPUTS if i.layout)
"""Inputs that choose the layout; every other varied input defines the scenario."""
