using EvoQuant.Numerics;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Dynamic;

/// <summary>LSTM becomes com.microsoft DynamicQuantizeLSTM, as in the reference tool: W [dirs, 4H, I]
/// and R [dirs, 4H, H] quantized symmetric int8 with one scale per direction (per gate row when per
/// channel), then stored transposed to [dirs, I, 4H] and [dirs, H, 4H], the layout the kernel reads.</summary>
internal sealed class DynamicLstmEmitter : DynamicEmitter
{
    public override List<NodeProto>? TryEmit(NodeProto node, DynamicScope scope, out string? reason)
    {
        reason = null;
        if (node.Input.Count < 3) { reason = "it has no recurrence weight."; return null; }
        if (QuantizationContext.IntAttribute(node, "layout", 0) != 0) { reason = "layout=1 is not supported by DynamicQuantizeLSTM."; return null; }
        if (scope.FloatConstant(node.Input[1]) is not var (wt, wdims) || wdims.Length != 3) { reason = $"its weight W '{node.Input[1]}' is not a float32 constant of rank 3."; return null; }
        if (scope.FloatConstant(node.Input[2]) is not var (rt, rdims) || rdims.Length != 3) { reason = $"its weight R '{node.Input[2]}' is not a float32 constant of rank 3."; return null; }

        var (wq, ws, wz) = Quantize(scope, node.Input[1], wt, wdims);
        var (rq, rs, rz) = Quantize(scope, node.Input[2], rt, rdims);

        var q = new NodeProto { OpType = "DynamicQuantizeLSTM", Domain = Rewrite.GraphRewrite.MicrosoftDomain, Name = scope.Names.Take((node.Name.Length > 0 ? node.Name : node.Output[0]) + "_quant") };
        q.Input.Add(node.Input[0]);
        q.Input.Add(wq);
        q.Input.Add(rq);
        for (int i = 3; i < 8; i++) q.Input.Add(i < node.Input.Count ? node.Input[i] : "");
        q.Input.Add(ws);
        q.Input.Add(wz);
        q.Input.Add(rs);
        q.Input.Add(rz);
        q.Attribute.AddRange(node.Attribute.Where(a => a.Name != "layout"));
        q.Output.AddRange(node.Output);
        scope.UseDomain(q.Domain);
        scope.RecordQuantizedInside(node.Input[0]);
        return new List<NodeProto> { q };
    }

    private static (string, string, string) Quantize(DynamicScope scope, string name, float[] data, long[] dims)
    {
        long dirs = dims[0], rows = dims[1], cols = dims[2];
        bool perChannel = scope.Options.PerChannel;
        // Per channel: one scale per (direction, gate row); else one per direction.
        long[] view = perChannel ? new[] { dirs * rows, cols } : dims;
        var type = scope.Options.WeightType;
        var owner = scope.OwnerOf(name);
        // The gate GEMM reduces over the input columns (the last axis) of each gate row.
        var qt = owner.Weight(name, data, view, 0, type, ReductionLayout.RowsOf(view.Length)).Tensor;

        var raw = new byte[qt.Raw.Length];
        for (long d = 0; d < dirs; d++)
            for (long r = 0; r < rows; r++)
                for (long c = 0; c < cols; c++)
                    raw[d * rows * cols + c * rows + r] = qt.Raw[d * rows * cols + r * cols + c];
        long[]? paramDims = perChannel ? new[] { dirs, rows } : new[] { dirs };
        // Per direction: scales along axis 0 of [dirs, I, 4H]; per gate row they form a [dirs, 4H] grid.
        return owner.Store(name, name, raw, new[] { dirs, cols, rows }, type, qt.Params, paramDims, perChannel ? 2 : 0);
    }
}
