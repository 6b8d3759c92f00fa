using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.WeightOnly;

/// <summary>Gather of an embedding table [V, D], quantized in blocks along each row (D): the method sees the
/// table as a [K = D, N = V] weight, so a row of the table is a column of codes. MatMulNBits form: com.microsoft
/// GatherBlockQuantized with uint8 data [V, D * bits / 8], scales [V, blocks] and packed zero points when not
/// symmetric. DequantizeLinear form: the table stored [V, D] with a block-wise DequantizeLinear along axis 1
/// feeding the Gather.</summary>
internal sealed class WeightOnlyGatherEmitter : WeightOnlyEmitter
{
    public override List<NodeProto>? TryEmit(NodeProto node, WeightOnlyRewriter rw, int bits, out string? reason)
    {
        reason = null;
        string table = node.Input[0];
        var dims = rw.Dims(table);
        int v = (int)dims[0], d = (int)dims[1];
        if (bits == 4 && d % 2 != 0)
        {
            reason = $"its table '{table}' rows hold an odd number of values ({d}), which 4-bit rows cannot pack.";
            return null;
        }
        var form = rw.Form;
        var stored = rw.Once($"{table}|gather|{bits}|{form}", () =>
        {
            var kn = WeightOnlyMatMulEmitter.Transpose(rw.Floats(table), v, d);
            var m = rw.Quantize(node, table, kn, d, v, bits, activation: null);
            var s = form == WeightOnlyForm.MatMulNBits ? StoreGatherBlockQuantized(rw, table, m)
                : WeightOnlyMatMulEmitter.StoreBlockTensor(rw, table, m, m.UnpackCodes(), new long[] { v, d }, new long[] { v, m.BlocksPerColumn }, m.Scales, m.ZeroPoints);
            rw.RecordLayer(node, table, kn, m, s.Bytes, activation: null);
            return s;
        });
        rw.MarkReplaced(table);
        string baseName = node.Name.Length > 0 ? node.Name : node.Output[0];
        if (form == WeightOnlyForm.MatMulNBits)
        {
            var inputs = new List<string> { stored.Data, node.Input[1], stored.Scale };
            if (stored.ZeroPoint != null) inputs.Add(stored.ZeroPoint);
            var g = rw.NewNode("GatherBlockQuantized", Rewrite.GraphRewrite.MicrosoftDomain, rw.Names.Take(baseName + "_quant"), inputs, new[] { node.Output[0] });
            g.Attribute.Add(WeightOnlyMatMulEmitter.Int("gather_axis", 0));
            g.Attribute.Add(WeightOnlyMatMulEmitter.Int("quantize_axis", 1));
            g.Attribute.Add(WeightOnlyMatMulEmitter.Int("block_size", rw.WeightOnly.BlockSize));
            g.Attribute.Add(WeightOnlyMatMulEmitter.Int("bits", bits));
            return new List<NodeProto> { g };
        }
        var dq = WeightOnlyMatMulEmitter.DequantizeNode(rw, stored, table, axis: 1);
        var gather = node.Clone();
        gather.Input[0] = dq.Output[0];
        return new List<NodeProto> { dq, gather };
    }

    private static StoredBlocks StoreGatherBlockQuantized(WeightOnlyRewriter rw, string table, BlockQuantizedMatrix m)
    {
        int blocks = m.BlocksPerColumn;
        var codes = BlockPacking.RowPackedCodes(m);
        string data = rw.AddInitializer(TensorNames.Quantized(table), ElementTypes.UInt8, new long[] { m.Columns, codes.Length / m.Columns }, codes);
        string scale = rw.AddFloats(TensorNames.Scale(table), new long[] { m.Columns, blocks }, m.Scales);
        long bytes = codes.Length + m.Scales.Length * 4L;
        string? zp = null;
        if (!BlockPacking.HasSymmetricZeroPoints(m))
        {
            var z = BlockPacking.PackedZeroPoints(m);
            zp = rw.AddInitializer(TensorNames.ZeroPoint(table), ElementTypes.UInt8, new long[] { m.Columns, z.Length / m.Columns }, z);
            bytes += z.Length;
        }
        rw.RecordTensor(table, Provenance.ProvenanceKind.Weight, new Rewrite.StoredTensor(data, scale, zp, Array.Empty<Numerics.QuantParams>(), null),
            decision: $"{m.Spec.Bits}-bit blocks of {m.Spec.BlockSize} along each row (GatherBlockQuantized)");
        return new StoredBlocks(data, scale, zp, bytes, m.Spec.BlockSize);
    }
}
