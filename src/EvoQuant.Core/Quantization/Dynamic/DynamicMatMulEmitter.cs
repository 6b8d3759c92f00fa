using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Dynamic;

/// <summary>MatMul with a constant 2-D B, and Gemm (alpha 1, no transA) with a constant B: int8 B (per
/// column when per channel), A quantized to uint8 at run time, float output. As the reference tool writes
/// it: DynamicQuantizeLinear + MatMulInteger + Cast + Mul by the product of scales (+ Add of Gemm's C),
/// standard ONNX ops that ONNX Runtime fuses into DynamicQuantizeMatMul when it loads the model. Below
/// opset 11 (no DynamicQuantizeLinear) or with UseContribOps, the fused com.microsoft DynamicQuantizeMatMul
/// is written directly, with Gemm's C or a following Add of a constant [N] vector as its bias.</summary>
internal sealed class DynamicMatMulEmitter : DynamicEmitter
{
    public override List<NodeProto>? TryEmit(NodeProto node, DynamicScope scope, out string? reason)
    {
        reason = null;
        bool gemm = node.OpType == "Gemm";
        if (node.Input.Count < 2) { reason = "it has fewer than two inputs."; return null; }
        string a = node.Input[0], b = node.Input[1];
        if (scope.FloatConstant(a) != null) { reason = $"its input A '{a}' is a constant; only run-time A is quantized dynamically."; return null; }
        if (scope.FloatConstant(b) is not var (bt, bdims)) { reason = $"its input B '{b}' is not a float32 constant (dynamic quantization needs constant weights)."; return null; }
        if (bdims.Length != 2) { reason = $"its weight '{b}' has rank {bdims.Length}; DynamicQuantizeMatMul takes a 2-D B."; return null; }

        bool transB = false;
        float beta = 1f;
        if (gemm)
        {
            if (QuantizationContext.IntAttribute(node, "transA", 0) != 0) { reason = "transA=1 has no DynamicQuantizeMatMul equivalent."; return null; }
            if (QuantizationContext.FloatAttribute(node, "alpha", 1f) != 1f) { reason = "alpha != 1 has no DynamicQuantizeMatMul equivalent."; return null; }
            transB = QuantizationContext.IntAttribute(node, "transB", 0) != 0;
            beta = QuantizationContext.FloatAttribute(node, "beta", 1f);
        }
        long k = transB ? bdims[1] : bdims[0], n = transB ? bdims[0] : bdims[1];

        // Bias: Gemm's C, or the constant of an Add that alone reads the MatMul's output.
        string output = node.Output[0];
        float[]? bias = null;
        NodeProto? foldedAdd = null;
        if (gemm && node.Input.Count > 2 && node.Input[2].Length > 0)
        {
            if (scope.FloatConstant(node.Input[2]) is not var (ct, cdims) || TensorData.ElementCount(cdims) != n || cdims.Count(d => d != 1) > 1)
            { reason = $"its C '{node.Input[2]}' is not a constant vector of {n} values."; return null; }
            bias = ct.Select(v => v * beta).ToArray();
        }
        bool fused = scope.Options.UseContribOps || scope.Opset < 11;
        if (fused && !gemm && FoldableAdd(node, scope, n) is var (add, values))
        {
            foldedAdd = add;
            bias = values;
            output = add.Output[0];
        }

        var o = scope.Options;
        int channelAxis = transB ? 0 : 1;
        int? axis = o.PerChannel || (o.PerChannelWhereItPays && ChannelGranularity.PaysOff(bt, bdims, channelAxis)) ? channelAxis : null;
        var owner = scope.OwnerOf(b);
        var w = owner.Weight(b, bt, bdims, axis, o.WeightType, transB ? ReductionLayout.RowsOf(2) : ReductionLayout.ColumnsOf(2));
        var qt = w.Tensor;
        byte[] raw = transB ? Transpose2D(qt.Raw, (int)bdims[0], (int)bdims[1]) : qt.Raw;
        var (bq, bs, bz) = owner.Store(b, b + (transB ? "_T" : ""), raw, new[] { k, n }, qt.Type, qt.Params, null, qt.Params.Length > 1 ? 1 : null,
            transB ? new[] { 1, 0 } : null);

        if (!fused) return Standard(node, scope, a, (bq, bs, bz), bias, n);

        var nodes = new List<NodeProto>();
        var dq = new NodeProto { OpType = "DynamicQuantizeMatMul", Domain = Rewrite.GraphRewrite.MicrosoftDomain, Name = scope.Names.Take((node.Name.Length > 0 ? node.Name : output) + "_quant") };
        dq.Input.Add(a);
        dq.Input.Add(bq);
        dq.Input.Add(bs);
        dq.Input.Add(bz);
        if (bias != null)
        {
            string biasName = scope.Names.Take(output + "_bias");
            scope.AddInitializer(TensorData.FromFloats(biasName, new[] { n }, bias));
            dq.Input.Add(biasName);
            if (gemm) scope.MarkReplaced(node.Input[2]);
        }
        dq.Output.Add(output);
        nodes.Add(dq);
        scope.UseDomain(dq.Domain);
        scope.RecordQuantizedInside(a);
        if (foldedAdd != null) scope.Fold(foldedAdd, node);
        return nodes;
    }

    /// <summary>DynamicQuantizeLinear(A) -> MatMulInteger -> Cast -> Mul(A scale * B scale) [-> Add bias].</summary>
    private static List<NodeProto> Standard(NodeProto node, DynamicScope scope, string a, (string Q, string Scale, string ZeroPoint) b, float[]? bias, long n)
    {
        var nodes = new List<NodeProto>();
        string y = node.Output[0], baseName = node.Name.Length > 0 ? node.Name : y;
        var (aq, aScale, aZero) = scope.DynamicInput(a, nodes);
        var mm = new NodeProto { OpType = "MatMulInteger", Name = scope.Names.Take(baseName + "_quant") };
        mm.Input.AddRange(new[] { aq, b.Q, aZero, b.ZeroPoint });
        string yInt = scope.Names.Take(y + "_output_quantized");
        mm.Output.Add(yInt);
        nodes.Add(mm);
        string yCast = scope.Names.Take(yInt + "_cast_output");
        var cast = new NodeProto { OpType = "Cast", Name = scope.Names.Take(yInt + "_cast") };
        cast.Input.Add(yInt);
        cast.Output.Add(yCast);
        cast.Attribute.Add(new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = ElementTypes.Float });
        nodes.Add(cast);
        string scale = scope.Names.Take(baseName + "_scales_mul");
        nodes.Add(DynamicConvEmitter.Binary("Mul", aScale, b.Scale, scale, scope.Names.Take(scale + "_node")));
        string scaled = bias == null ? y : scope.Names.Take(y + "_scaled");
        nodes.Add(DynamicConvEmitter.Binary("Mul", yCast, scale, scaled, scope.Names.Take(baseName + "_output_scale_mul")));
        if (bias != null)
        {
            string biasName = scope.Names.Take(y + "_bias");
            scope.AddInitializer(TensorData.FromFloats(biasName, new[] { n }, bias));
            scope.MarkReplaced(node.Input[2]);
            nodes.Add(DynamicConvEmitter.Binary("Add", scaled, biasName, y, scope.Names.Take(baseName + "_bias_add")));
        }
        return nodes;
    }

    private static (NodeProto Add, float[] Values)? FoldableAdd(NodeProto matmul, DynamicScope scope, long n)
    {
        string y = matmul.Output[0];
        if (scope.Uses(y) != 1 || scope.Consumers(y) is not [{ OpType: "Add", Domain: "" } add] || add.Input.Count != 2) return null;
        string other = add.Input[0] == y ? add.Input[1] : add.Input[0];
        if (scope.FloatConstant(other) is not var (t, dims) || TensorData.ElementCount(dims) != n || dims.Length == 0 || dims[^1] != n) return null;
        scope.MarkReplaced(other);
        return (add, t);
    }

    private static byte[] Transpose2D(byte[] src, int rows, int cols)
    {
        var dst = new byte[src.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) dst[c * rows + r] = src[r * cols + c];
        return dst;
    }
}
