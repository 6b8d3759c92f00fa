namespace EvoQuant.Quantization.WeightOnly;

/// <summary>How block-quantized weights are written into the model.</summary>
public enum WeightOnlyForm
{
    /// <summary>ONNX Runtime's com.microsoft MatMulNBits (and GatherBlockQuantized for embeddings): fused
    /// kernels that read the packed blocks directly. Runs on ONNX Runtime only.</summary>
    MatMulNBits,

    /// <summary>Standard ONNX: a DequantizeLinear with block_size (opset 21, int4/uint4 or int8/uint8 data)
    /// feeding the MatMul, Gemm or Gather. The model's opset is raised to 21.</summary>
    DequantizeLinear,

    /// <summary>Logarithmic codes (sign and exponent, zero exact; <see cref="Numerics.LogQuantizer"/>), one scale
    /// per output channel instead of blocks, for Conv, ConvTranspose, MatMul and Gemm weights, decoded by a
    /// constant subgraph that ONNX Runtime folds at load: the file shrinks, inference runs in float as before.
    /// At 4 bits they beat linear codes of the same size on bell-shaped weights; at 8 bits linear codes are better.</summary>
    Logarithmic,
}
