using EvoQuant.Numerics;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Dynamic;

/// <summary>ONNX Runtime's fused com.microsoft Attention (what Optimize-OnnxGraph -Level Extended makes of a
/// BERT self-attention block) as QAttention, the form the reference tool writes: the input quantized to
/// uint8 at run time (DynamicQuantizeLinear, shared with other consumers), the packed Q/K/V weight
/// [hidden, 3 x hidden] int8 (per column where that pays), bias and mask as they were.</summary>
internal sealed class DynamicAttentionEmitter : DynamicEmitter
{
    /// <summary>Attributes QAttention has too; any other (qkv_hidden_sizes, scale, rotary, ...) keeps the node float.</summary>
    private static readonly HashSet<string> Shared = new(StringComparer.Ordinal) { "num_heads", "unidirectional" };

    public override List<NodeProto>? TryEmit(NodeProto node, DynamicScope scope, out string? reason)
    {
        reason = null;
        if (node.Input.Count < 3 || node.Input[2].Length == 0) { reason = "it has no bias input (QAttention needs one)."; return null; }
        if (node.Input.Count > 5 && node.Input.Skip(5).Any(i => i.Length > 0)) { reason = "it has an attention bias or past length input, which QAttention lacks."; return null; }
        if (node.Attribute.FirstOrDefault(a => !Shared.Contains(a.Name)) is { } extra) { reason = $"its attribute {extra.Name} has no QAttention equivalent."; return null; }
        string a = node.Input[0], b = node.Input[1];
        if (scope.FloatConstant(b) is not var (bt, bdims) || bdims.Length != 2) { reason = $"its weights '{b}' are not a 2-D float32 constant."; return null; }

        var o = scope.Options;
        int? axis = o.PerChannel || (o.PerChannelWhereItPays && ChannelGranularity.PaysOff(bt, bdims, 1)) ? 1 : null;
        var owner = scope.OwnerOf(b);
        var w = owner.Weight(b, bt, bdims, axis, o.WeightType, ReductionLayout.ColumnsOf(2));
        var (bq, bs, bz) = owner.Store(b, b, w.Tensor.Raw, bdims, w.Tensor.Type, w.Tensor.Params, null, axis);

        var nodes = new List<NodeProto>();
        var (aq, aScale, aZero) = scope.DynamicInput(a, nodes);
        var q = new NodeProto
        {
            OpType = "QAttention",
            Domain = Rewrite.GraphRewrite.MicrosoftDomain,
            Name = scope.Names.Take((node.Name.Length > 0 ? node.Name : node.Output[0]) + "_quant"),
        };
        string mask = node.Input.Count > 3 ? node.Input[3] : "";
        string past = node.Input.Count > 4 ? node.Input[4] : "";
        q.Input.AddRange(new[] { aq, bq, node.Input[2], aScale, bs, mask, aZero, bz });
        if (past.Length > 0) q.Input.Add(past);
        q.Output.AddRange(node.Output);
        q.Attribute.AddRange(node.Attribute.Select(x => x.Clone()));
        nodes.Add(q);
        scope.UseDomain(q.Domain);
        return nodes;
    }
}
