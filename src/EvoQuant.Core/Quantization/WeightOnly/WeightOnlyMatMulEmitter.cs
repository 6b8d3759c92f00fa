using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.WeightOnly;

/// <summary>MatMul and Gemm with a constant weight, in either form. MatMulNBits: one com.microsoft node
/// with B packed [N, blocks, blob], scales [N, blocks], zero points when not symmetric and Gemm's bias
/// (beta * C, a constant of N values; alpha is folded into the weight). DequantizeLinear: the weight
/// stored [K, N] as int4/uint4 or int8/uint8 with [blocks, N] scales, dequantized along axis 0 by a block-wise
/// DequantizeLinear that feeds the MatMul (or the Gemm, now with transB = 0).</summary>
internal sealed class WeightOnlyMatMulEmitter : WeightOnlyEmitter
{
    public override List<NodeProto>? TryEmit(NodeProto node, WeightOnlyRewriter rw, int bits, out string? reason)
    {
        reason = null;
        bool gemm = node.OpType == "Gemm";
        string a = node.Input[0], b = node.Input[1];
        var dims = rw.Dims(b);
        bool transB = gemm && QuantizationContext.IntAttribute(node, "transB", 0) != 0;
        float alpha = gemm ? QuantizationContext.FloatAttribute(node, "alpha", 1f) : 1f;
        float beta = gemm ? QuantizationContext.FloatAttribute(node, "beta", 1f) : 1f;
        int k = (int)(transB ? dims[1] : dims[0]), n = (int)(transB ? dims[0] : dims[1]);
        string? c = gemm && node.Input.Count > 2 && node.Input[2].Length > 0 ? node.Input[2] : null;
        var form = rw.Form;

        float[]? bias = null;
        if (form == WeightOnlyForm.MatMulNBits && c != null)
        {
            if (!rw.Context.IsConstant(c) || !rw.Context.IsFloat(c) || TensorData.ElementCount(rw.Dims(c)) != n || rw.Dims(c).Count(d => d != 1) > 1)
            {
                reason = $"its C '{c}' is not a constant vector of {n} values (MatMulNBits takes a bias of N values).";
                return null;
            }
            bias = rw.Floats(c);
            if (beta != 1f) for (int i = 0; i < bias.Length; i++) bias[i] *= beta;
        }

        // MatMulNBits computes A x W: Gemm's alpha goes into the weight it quantizes.
        float scaleWeight = form == WeightOnlyForm.MatMulNBits ? alpha : 1f;
        string key = $"{b}|{transB}|{scaleWeight}|{bits}|{form}|{(rw.WeightOnly.Method.NeedsInputStatistics ? a : "")}";
        var stored = rw.Once(key, () => Store(node, rw, b, a, dims, transB, scaleWeight, k, n, bits, form));
        rw.MarkReplaced(b);

        string baseName = node.Name.Length > 0 ? node.Name : node.Output[0];
        if (form == WeightOnlyForm.MatMulNBits)
        {
            var inputs = new List<string> { a, stored.Data, stored.Scale, stored.ZeroPoint ?? "" };
            if (bias != null)
            {
                inputs.Add("");
                inputs.Add(rw.AddFloats(c + "_bias", new long[] { n }, bias));
                rw.MarkReplaced(c!);
            }
            while (inputs[^1].Length == 0) inputs.RemoveAt(inputs.Count - 1);
            var mm = rw.NewNode("MatMulNBits", Rewrite.GraphRewrite.MicrosoftDomain, rw.Names.Take(baseName + "_quant"), inputs, new[] { node.Output[0] });
            mm.Attribute.Add(Int("K", k));
            mm.Attribute.Add(Int("N", n));
            mm.Attribute.Add(Int("bits", bits));
            mm.Attribute.Add(Int("block_size", rw.WeightOnly.BlockSize));
            if (rw.WeightOnly.AccuracyLevel is int level) mm.Attribute.Add(Int("accuracy_level", level));
            return new List<NodeProto> { mm };
        }

        var dq = DequantizeNode(rw, stored, b, axis: 0);
        var op = node.Clone();
        op.Input[1] = dq.Output[0];
        if (transB) op.Attribute.First(x => x.Name == "transB").I = 0;
        return new List<NodeProto> { dq, op };
    }

    private static StoredBlocks Store(NodeProto node, WeightOnlyRewriter rw, string b, string a, long[] dims, bool transB, float alpha, int k, int n, int bits, WeightOnlyForm form)
    {
        // A [K, N] weight stored inline is quantized where it lies; a transposed or scaled one needs its own copy.
        if (transB || alpha != 1f || !rw.TryInlineFloats(b, out var kn))
        {
            var raw = rw.Floats(b);
            var copy = transB ? Transpose(raw, (int)dims[0], (int)dims[1]) : raw;
            if (alpha != 1f) for (int i = 0; i < copy.Length; i++) copy[i] *= alpha;
            kn = copy;
        }
        var m = rw.Quantize(node, b, kn, k, n, bits, a);
        var stored = form == WeightOnlyForm.MatMulNBits ? StoreMatMulNBits(rw, b, m) : StoreDequantizeLinear(rw, b, m);
        rw.RecordLayer(node, b, kn, m, stored.Bytes, a);
        return stored;
    }

    private static StoredBlocks StoreMatMulNBits(WeightOnlyRewriter rw, string b, BlockQuantizedMatrix m)
    {
        int blocks = m.BlocksPerColumn;
        var packed = BlockPacking.MatMulNBitsWeight(m);
        string data = rw.AddInitializer(TensorNames.Quantized(b), ElementTypes.UInt8, new long[] { m.Columns, blocks, BlockPacking.BlobSize(m.Spec) }, packed);
        string scale = rw.AddFloats(TensorNames.Scale(b), new long[] { m.Columns, blocks }, m.Scales);
        long bytes = packed.Length + m.Scales.Length * 4L;
        string? zp = null;
        // Symmetric blocks use MatMulNBits' default zero point (the middle code): none is stored.
        if (!BlockPacking.HasSymmetricZeroPoints(m))
        {
            var z = BlockPacking.PackedZeroPoints(m);
            zp = rw.AddInitializer(TensorNames.ZeroPoint(b), ElementTypes.UInt8, new long[] { m.Columns, z.Length / m.Columns }, z);
            bytes += z.Length;
        }
        rw.RecordTensor(b, Provenance.ProvenanceKind.Weight, new Rewrite.StoredTensor(data, scale, zp, Array.Empty<Numerics.QuantParams>(), null),
            decision: $"{m.Spec.Bits}-bit blocks of {m.Spec.BlockSize} along K (MatMulNBits)");
        return new StoredBlocks(data, scale, zp, bytes);
    }

    /// <summary>The DequantizeLinear form of a [K, N] weight: data [K, N], scales and zero points [blocks, N].</summary>
    private static StoredBlocks StoreDequantizeLinear(WeightOnlyRewriter rw, string b, BlockQuantizedMatrix m) =>
        StoreBlockTensor(rw, b, m, BlockPacking.RowMajorCodes(m), new long[] { m.Rows, m.Columns }, new long[] { m.BlocksPerColumn, m.Columns },
            BlockPacking.BlocksByRow(m.Scales, m.BlocksPerColumn, m.Columns), BlockPacking.BlocksByRow(m.ZeroPoints, m.BlocksPerColumn, m.Columns));

    /// <summary>Writes block-quantized data for a DequantizeLinear with block_size: signed with no zero point when
    /// every block is symmetric, else unsigned with its zero points.</summary>
    internal static StoredBlocks StoreBlockTensor(WeightOnlyRewriter rw, string source, BlockQuantizedMatrix m, byte[] codes, long[] dims, long[] paramDims, float[] scales, byte[] zeroPoints)
    {
        int bits = m.Spec.Bits;
        bool signed = BlockPacking.HasSymmetricZeroPoints(m);
        int type = (bits, signed) switch { (4, true) => ElementTypes.Int4, (4, false) => ElementTypes.UInt4, (_, true) => ElementTypes.Int8, _ => ElementTypes.UInt8 };
        var raw = BlockPacking.OnnxData(codes, bits, signed, m.Spec.SymmetricZeroPoint);
        string data = rw.AddInitializer(TensorNames.Quantized(source), type, dims, raw);
        string scale = rw.AddFloats(TensorNames.Scale(source), paramDims, scales);
        long bytes = raw.Length + scales.Length * 4L;
        string? zp = null;
        if (!signed)
        {
            var z = BlockPacking.OnnxData(zeroPoints, bits, false, 0);
            zp = rw.AddInitializer(TensorNames.ZeroPoint(source), type, paramDims, z);
            bytes += z.Length;
        }
        return new StoredBlocks(data, scale, zp, bytes, m.Spec.BlockSize);
    }

    /// <summary>DequantizeLinear(data, scale[, zero point]) with axis and block_size, writing a float tensor.</summary>
    internal static NodeProto DequantizeNode(WeightOnlyRewriter rw, StoredBlocks stored, string source, int axis)
    {
        var inputs = new List<string> { stored.Data, stored.Scale };
        if (stored.ZeroPoint != null) inputs.Add(stored.ZeroPoint);
        string output = rw.Names.Take(TensorNames.DequantizeOutput(source));
        var dq = rw.NewNode("DequantizeLinear", null, rw.Names.Take(TensorNames.DequantizeNode(source)), inputs, new[] { output });
        dq.Attribute.Add(Int("axis", axis));
        dq.Attribute.Add(Int("block_size", stored.BlockSize));
        if (!rw.Provenance.Tensors.ContainsKey(source))
            rw.RecordTensor(source, Provenance.ProvenanceKind.Weight, new Rewrite.StoredTensor(stored.Data, stored.Scale, stored.ZeroPoint, Array.Empty<Numerics.QuantParams>(), axis),
                dequantized: output, decision: $"blocks of {stored.BlockSize} along axis {axis} (DequantizeLinear block_size)");
        return dq;
    }

    internal static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    internal static float[] Transpose(float[] src, int rows, int cols)
    {
        var dst = new float[src.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) dst[(long)c * rows + r] = src[(long)r * cols + c];
        return dst;
    }
}

/// <summary>The initializers of one block-quantized weight and the bytes they take.</summary>
internal sealed record StoredBlocks(string Data, string Scale, string? ZeroPoint, long Bytes, int BlockSize = 0);
