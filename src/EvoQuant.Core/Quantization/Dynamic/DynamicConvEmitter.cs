using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Dynamic;

/// <summary>Conv becomes DynamicQuantizeLinear + ConvInteger + Cast + Mul (by input scale * weight
/// scale) + Add of the float bias, as the reference tool writes it. Weights are per tensor, as there:
/// ConvInteger has no per-channel scale, and the product of scales stays one scalar.</summary>
internal sealed class DynamicConvEmitter : DynamicEmitter
{
    public override List<NodeProto>? TryEmit(NodeProto node, DynamicScope scope, out string? reason)
    {
        reason = null;
        if (scope.Opset < 11) { reason = $"ConvInteger needs DynamicQuantizeLinear (opset 11); the model uses opset {scope.Opset}."; return null; }
        if (node.Input.Count < 2) { reason = "it has no weight input."; return null; }
        string x = node.Input[0], w = node.Input[1], y = node.Output[0];
        if (scope.FloatConstant(x) != null) { reason = $"its input '{x}' is a constant."; return null; }
        if (scope.FloatConstant(w) is not var (wt, wdims) || wdims.Length < 3) { reason = $"its weight '{w}' is not a float32 constant of rank 3 or more."; return null; }
        (float[] Data, long[] Dims)? bias = null;
        if (node.Input.Count > 2 && node.Input[2].Length > 0)
        {
            bias = scope.FloatConstant(node.Input[2]);
            if (bias == null) { reason = $"its bias '{node.Input[2]}' is not a float32 constant."; return null; }
        }

        var o = scope.Options;
        // Measured on fashion-cnn: 13x slower than float with int8 weights, 6x with uint8 (ORT 1.31.1, x86).
        scope.Warn("ConvInteger runs on a generic path of ONNX Runtime's CPU provider, often slower than float Conv (depthwise and small convolutions worst, int8 weights slower than uint8): " +
            "for CNNs prefer static quantization (QOperator or QDQ), or limit dynamic quantization with OpTypes (MatMul, Gemm, LSTM).");
        if (o.PerChannel) scope.Warn("Conv weights are quantized per tensor in dynamic mode: the scale that ConvInteger's output is multiplied by is one scalar (as in the reference tool); PerChannel applies to MatMul, Gemm and LSTM.");
        var owner = scope.OwnerOf(w);
        var qw = owner.Weight(w, wt, wdims, null, o.WeightType, ReductionLayout.ConvChannelsFirst(wdims.Length)).Tensor;
        var (wq, ws, wz) = owner.Store(w, w, qw.Raw, wdims, qw.Type, qw.Params, null, null);

        var nodes = new List<NodeProto>();
        var (xq, xs, xz) = scope.DynamicInput(x, nodes);
        string baseName = node.Name.Length > 0 ? node.Name : y;

        var conv = new NodeProto { OpType = "ConvInteger", Name = scope.Names.Take(baseName + "_quant") };
        conv.Input.Add(xq);
        conv.Input.Add(wq);
        conv.Input.Add(xz);
        conv.Input.Add(wz);
        conv.Attribute.AddRange(node.Attribute);
        string yInt = scope.Names.Take(y + "_output_quantized");
        conv.Output.Add(yInt);
        nodes.Add(conv);

        string yCast = scope.Names.Take(yInt + "_cast_output");
        var cast = new NodeProto { OpType = "Cast", Name = scope.Names.Take(yInt + "_cast") };
        cast.Input.Add(yInt);
        cast.Output.Add(yCast);
        cast.Attribute.Add(new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = ElementTypes.Float });
        nodes.Add(cast);

        string scale = scope.Names.Take(baseName + "_scales_mul");
        nodes.Add(Binary("Mul", xs, ws, scale, scope.Names.Take(scale + "_node")));
        string scaled = bias == null ? y : scope.Names.Take(y + "_scaled");
        nodes.Add(Binary("Mul", yCast, scale, scaled, scope.Names.Take(baseName + "_output_scale_mul")));

        if (bias is var (bt, _))
        {
            // [M] -> [M, 1, ...] so that it broadcasts over [N, M, spatial...].
            var shape = new long[wdims.Length - 1];
            Array.Fill(shape, 1L);
            shape[0] = wdims[0];
            string b = scope.Names.Take(node.Input[2] + "_reshaped");
            scope.AddInitializer(TensorData.FromFloats(b, shape, bt));
            scope.MarkReplaced(node.Input[2]);
            nodes.Add(Binary("Add", scaled, b, y, scope.Names.Take(baseName + "_bias_add")));
        }
        return nodes;
    }

    internal static NodeProto Binary(string op, string a, string b, string output, string name)
    {
        var n = new NodeProto { OpType = op, Name = name };
        n.Input.Add(a);
        n.Input.Add(b);
        n.Output.Add(output);
        return n;
    }
}
