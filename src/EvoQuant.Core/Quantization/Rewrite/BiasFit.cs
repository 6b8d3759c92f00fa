using EvoQuant.Numerics;

namespace EvoQuant.Quantization.Rewrite;

/// <summary>A bias that overflows int32 at scale input*weight sits on a channel whose weights are all near
/// zero (so its weight scale is tiny) while the bias is not: clipping it would change that channel's output
/// everywhere (PaddleOCR det has one such channel, rec three). As the reference tool does
/// (<c>_adjust_weight_scale_for_int32_bias</c>), the weight scale of such a channel grows to the smallest one
/// at which the bias fits, and the channel's weights are quantized again with it. Every static format does this.</summary>
internal static class BiasFit
{
    /// <summary>Widens the scales of the stored weight of <paramref name="b"/> where its bias needs it and
    /// rewrites the weight's initializers. Only for weights with zero point 0 that <paramref name="canChange"/>
    /// allows (read by this one node); returns false when nothing changed.</summary>
    public static bool WidenWeightScales(GraphRewrite rewrite, QuantizationContext ctx, BiasRequest b, float[] bias, float inputScale, Func<StoredTensor, bool> canChange)
    {
        if (rewrite.Store.Get(b.Weight) is not { } w || w.Params.Any(p => p.ZeroPoint != 0) || !canChange(w)) return false;
        if (ctx.Constant(b.Weight) is not { } source) return false;

        var ps = (QuantParams[])w.Params.Clone();
        int changed = 0;
        for (int c = 0; c < ps.Length; c++)
        {
            double maxBias = ps.Length == 1 ? bias.Max(v => Math.Abs(v)) : Math.Abs(bias[c]);
            // The smallest weight scale with |bias| / (input * weight * beta) within int32, with a little headroom
            // for the float32 products BiasQuantizer computes.
            double needed = maxBias / ((double)int.MaxValue * inputScale * b.Beta) * (1 + 1e-5);
            if (ps[c].Scale >= needed) continue;
            ps[c] = ps[c] with { Scale = (float)needed };
            changed++;
        }
        if (changed == 0) return false;

        // The wider scale only shrinks the values, so they stay within the type's range.
        var raw = WeightQuantizer.QuantizeWith(ctx.Model.GetFloats(source), source.Dims.ToArray(), ps, w.Axis);
        rewrite.Store.Replace(b.Weight, raw, ps);
        string words = $"scale of {changed} channel(s) widened so that bias '{b.Bias}' fits int32";
        if (rewrite.Provenance.Tensors.GetValueOrDefault(b.Weight) is { } tp)
            rewrite.Provenance.AddTensor(tp with { Decision = tp.Decision == null ? words : tp.Decision + "; " + words });
        rewrite.Warnings.Add($"Bias '{b.Bias}' of node '{b.NodeName}' did not fit int32 at scale input*weight: the weight scale of {changed} channel(s) of '{b.Weight}' was widened so that it fits.");
        return true;
    }
}
