namespace EvoQuant.Targets;

/// <summary>The CPU a quantized model is meant to run on, which decides the defaults a user did not set:
/// ONNX Runtime picks different integer kernels on each, with different speed and accuracy.</summary>
public enum QuantTarget
{
    /// <summary>The CPU this process runs on, detected at quantization time.</summary>
    Host,
    /// <summary>x86-64 with AVX-512 VNNI, AVX-VNNI or AMX: u8 x s8 products are summed in 32 bits.</summary>
    X64Vnni,
    /// <summary>x86-64 with AVX2 and no VNNI: u8 x s8 products are summed in pairs into saturating 16 bits (vpmaddubsw).</summary>
    X64Avx2,
    /// <summary>Arm64 (NEON; dot product where present): 8-bit products are summed in 32 bits.</summary>
    Arm64,
    /// <summary>Any CPU: the choices that are safe on every kernel ONNX Runtime has.</summary>
    Portable,
}
