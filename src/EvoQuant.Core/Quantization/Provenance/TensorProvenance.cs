namespace EvoQuant.Quantization.Provenance;

/// <summary>What a quantized tensor was in the float model.</summary>
public enum ProvenanceKind
{
    /// <summary>Computed at run time: quantized with calibrated (static) or runtime (dynamic) parameters.</summary>
    Activation,
    /// <summary>A constant quantized offline.</summary>
    Weight,
    /// <summary>A bias stored as int32 with scale = input scale x weight scale.</summary>
    Bias,
}

/// <summary>One tensor of the float model and where its quantized form lives in the output model.
/// Names on the output side are tensor or initializer names of the output model.</summary>
/// <param name="SourceTensor">The tensor in the float model given to the quantizer.</param>
/// <param name="Kind">Activation, weight or bias.</param>
/// <param name="QuantizedTensor">The integer tensor in the output: a QuantizeLinear output or an integer initializer
/// (for dynamic activations, the DynamicQuantizeLinear output; null when the runtime quantizes inside the op).</param>
/// <param name="Scale">The scale initializer (or, dynamic activations, the tensor computed at run time).</param>
/// <param name="ZeroPoint">The zero-point initializer or tensor; null for int32 biases without one.</param>
/// <param name="Axis">The channel axis of per-channel parameters, or null for one scale.</param>
/// <param name="DequantizedTensor">A float tensor in the output that holds the dequantized value (QDQ's DequantizeLinear
/// output), or null when the format keeps it integer (QOperator) and a reader must dequantize.</param>
/// <param name="SharedWith">The source tensor whose parameters this one reuses (pass-through ops), or null.</param>
/// <param name="Decision">What the target changed for this tensor, in words (for example pair-safe weight scales), or null.</param>
/// <param name="Permutation">For a constant stored in another layout than the source's (a Gemm weight with transB
/// transposed for MatMulInteger), the ONNX Transpose perm that maps the source to the stored tensor; null when
/// stored as in the source. Optional: a reader comparing values element-wise needs it.</param>
public sealed record TensorProvenance(
    string SourceTensor,
    ProvenanceKind Kind,
    string? QuantizedTensor,
    string? Scale,
    string? ZeroPoint,
    int? Axis = null,
    string? DequantizedTensor = null,
    string? SharedWith = null,
    string? Decision = null,
    IReadOnlyList<int>? Permutation = null);
