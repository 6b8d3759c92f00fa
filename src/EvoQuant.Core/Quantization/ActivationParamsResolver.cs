using EvoQuant.Numerics;

namespace EvoQuant.Quantization;

/// <summary>Scale and zero point of every planned activation (run-time tensor), in one place for all
/// static formats: fixed range (Softmax) or the override range, else the calibrated range; then the type
/// override; then scale / zero point overrides, which win last. Shared tensors take their source's.</summary>
public static class ActivationParamsResolver
{
    /// <exception cref="QuantizationOptionsException">Tensors need a range and have none (all listed).</exception>
    public static Dictionary<string, QuantParams> Resolve(QuantizationContext ctx, QuantizationPlan plan)
    {
        var o = ctx.Options;
        var result = new Dictionary<string, QuantParams>(StringComparer.Ordinal);
        var missing = new List<string>();
        var requests = plan.Tensors.Where(r => r.Role == TensorRole.Activation && !ctx.IsConstant(r.Name)).ToList();

        foreach (var r in requests.Where(r => r.SharedWith == null))
        {
            o.TensorOverrides.TryGetValue(r.Name, out var ov);
            ActivationRange? range = r.FixedRange;
            if (ov is { RangeMin: float lo, RangeMax: float hi }) range = new ActivationRange(lo, hi);
            else if (range == null && o.ActivationRanges.TryGetValue(r.Name, out var calibrated)) range = calibrated;

            var type = ctx.TypeFor(r.Name, isWeight: false);
            if (range is not { } rg)
            {
                // Both scale and zero point given: no range needed.
                if (ov is { Scale: float s, ZeroPoint: int z }) { result[r.Name] = new QuantParams(s, z, type); continue; }
                missing.Add(r.Name);
                continue;
            }
            var p = QuantParamsCalculator.FromRange(rg.Min, rg.Max, type, o.ActivationSymmetric);
            if (ov?.Scale is float scale) p = p with { Scale = scale };
            if (ov?.ZeroPoint is int zp) p = p with { ZeroPoint = zp };
            result[r.Name] = p;
        }
        if (missing.Count > 0)
        {
            string list = string.Join(", ", missing.Take(20).Select(m => $"'{m}'")) + (missing.Count > 20 ? $" and {missing.Count - 20} more" : "");
            throw new QuantizationOptionsException(nameof(QuantizationOptions.ActivationRanges),
                $"Static quantization needs a calibrated range for {missing.Count} activation tensor(s) that have none: {list}. " +
                "Calibrate the model with the same node selection (Measure-Calibration) or give TensorOverrides with RangeMin/RangeMax.");
        }
        return result;
    }
}
