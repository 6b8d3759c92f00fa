namespace EvoQuant.Quantization.WeightOnly;

/// <summary>How a weight matrix is stored weight-only: <see cref="Bits"/> per value (4 or 8), in blocks of
/// <see cref="BlockSize"/> consecutive values along the reduction axis (K of a [K, N] MatMul weight), each
/// block with its own scale and, when not symmetric, its own zero point. <see cref="AdmmScales"/>: each block's
/// scale refined by <see cref="Numerics.AdmmScale"/> from the covering one (round-to-nearest; GPTQ chooses its own).</summary>
public sealed record BlockQuantizationSpec(int Bits = 4, int BlockSize = 32, bool Symmetric = true, bool AdmmScales = false)
{
    /// <summary>Largest code: 15 for 4 bits, 255 for 8 bits (codes are unsigned, as MatMulNBits stores them).</summary>
    public int MaxCode => (1 << Bits) - 1;

    /// <summary>The zero point of symmetric blocks: the middle code (8 for 4 bits, 128 for 8 bits).</summary>
    public int SymmetricZeroPoint => 1 << (Bits - 1);

    public void Validate()
    {
        if (Bits is not (4 or 8)) throw new ArgumentOutOfRangeException(nameof(Bits), Bits, "Weight-only quantization stores 4 or 8 bits per value.");
        if (BlockSize < 16 || BlockSize > 256 || (BlockSize & (BlockSize - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(BlockSize), BlockSize, "The block size is a power of two from 16 to 256.");
    }
}
