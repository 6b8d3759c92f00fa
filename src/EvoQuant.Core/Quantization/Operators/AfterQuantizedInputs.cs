using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Operators;

/// <summary>Elementwise, normalization and probability ops (Add, Mul, Softmax, LayerNormalization, ...)
/// quantized only where their run-time inputs are already quantized (by their producer or another consumer),
/// so that they sit between integer kernels. Where an input is float, quantizing the op writes a
/// QuantizeLinear just for it: ONNX Runtime then converts, runs a cheap op in integers and converts back,
/// slower than the float op, and the op's own ranges add error for nothing. In a transformer these are the
/// residual stream, LayerNorm and its decomposed form, GELU, the mask and the attention scores, whose
/// outlier channels per-tensor 8 bits cannot hold (all-MiniLM-L6-v2: embedding cosine 0.27 to float with
/// them quantized, 0.99 without). In a CNN their inputs come from quantized Conv/Gemm and they stay quantized.
/// Ops reading a graph input are quantized as before. Naming the op type in OpTypes quantizes it anyway.</summary>
/// <param name="inner">The declarer that quantizes the op once the check passes.</param>
/// <param name="inputs">Indices of the inputs that must be quantized already; none given: every input.</param>
public sealed class AfterQuantizedInputs(IOpQuantizer inner, params int[] inputs) : IOpQuantizer
{
    public string? TryDeclare(NodeProto node, QuantizationContext ctx, QuantizationPlan plan)
    {
        if (!ctx.Options.OpTypes.Contains(node.OpType, StringComparer.OrdinalIgnoreCase))
        {
            var indices = inputs.Length > 0 ? inputs : Enumerable.Range(0, node.Input.Count).ToArray();
            foreach (int i in indices)
            {
                if (i >= node.Input.Count) continue;
                string t = node.Input[i];
                // A graph input has no float producer: its QuantizeLinear is the model's entry, as for a first Conv.
                if (t.Length == 0 || !ctx.IsFloat(t) || ctx.IsConstant(t) || plan.IsMarked(t) || ctx.Graph.Producer(t) == null) continue;
                return $"its input '{t}' is float (its producer is not quantized): a QuantizeLinear for this op alone costs more than it saves and adds error (name {node.OpType} in OpTypes to quantize it anyway).";
            }
        }
        return inner.TryDeclare(node, ctx, plan);
    }
}
