namespace EvoQuant.Quantization.WeightOnly;

/// <summary>Weight-only quantization: MatMul and Gemm with a constant [K, N] weight, and Gather of a
/// constant embedding table, get block-quantized weights; activations stay float. Read when
/// <see cref="QuantizationOptions.Mode"/> is <see cref="QuantMode.WeightOnly"/>.</summary>
public sealed record WeightOnlyOptions
{
    /// <summary>4 or 8 bits per weight value.</summary>
    public int Bits { get; init; } = 4;

    /// <summary>Values per block along the reduction axis: a power of two from 16 to 256.</summary>
    public int BlockSize { get; init; } = 32;

    /// <summary>One scale per block and the middle code as zero point (none stored); false stores a zero point per block.</summary>
    public bool Symmetric { get; init; } = true;

    /// <summary>The ONNX form written; null lets the target decide (<see cref="WeightOnlyDefaults.FormFor"/>).</summary>
    public WeightOnlyForm? Form { get; init; }

    /// <summary>MatMulNBits' accuracy_level: 0 unset (as float as possible), 1 fp32, 2 fp16, 3 bf16, 4 int8
    /// activations inside the kernel (faster, less exact). Null writes no attribute.</summary>
    public int? AccuracyLevel { get; init; }

    /// <summary>How the codes are chosen (round-to-nearest by default; GPTQ and others plug in here).</summary>
    public IWeightOnlyMethod Method { get; init; } = RoundToNearestMethod.Instance;

    /// <summary>Statistics of each MatMul/Gemm input for methods that need them, keyed by the name of the
    /// node's activation input tensor (input 0, the A of A x W). Required when <see cref="IWeightOnlyMethod.NeedsInputStatistics"/>.</summary>
    public IReadOnlyDictionary<string, InputStatistics>? InputStatistics { get; init; }

    /// <summary>Node-name wildcard patterns of nodes whose weights get 8 bits whatever <see cref="Bits"/> is.</summary>
    public IReadOnlyCollection<string> EightBitNodes { get; init; } = Array.Empty<string>();

    /// <summary>The first and the last node quantized (graph order: usually the embedding and the output projection) get 8 bits.</summary>
    public bool EightBitFirstAndLast { get; init; }

    /// <summary>Also quantize Gather of a constant 2-D table along axis 0 (embeddings).</summary>
    public bool QuantizeEmbeddings { get; init; } = true;

    /// <summary>The block layout of a weight with <paramref name="bits"/> bits.</summary>
    public BlockQuantizationSpec SpecFor(int bits) => new(bits, BlockSize, Symmetric, Scale == WeightScaleMethod.Admm);

    /// <summary>How block scales are found: MaxAbs (covering the block) or Admm (the least squared error, round-to-nearest only).</summary>
    public WeightScaleMethod Scale { get; init; }
}
