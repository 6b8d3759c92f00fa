using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Targets;

namespace EvoQuant.Quantization;

/// <summary>Refuses option combinations that cannot work, before any work is done, with a message
/// that says what to change. Model-dependent checks (opset) take the model.</summary>
public static class QuantizationOptionsValidator
{
    /// <exception cref="QuantizationOptionsException">The first problem found.</exception>
    public static void Validate(QuantizationOptions o, OnnxModel? model = null, OpQuantizerRegistry? registry = null)
    {
        ArgumentNullException.ThrowIfNull(o);
        registry ??= OpQuantizerRegistry.Default;
        if (o.Mode == QuantMode.WeightOnly)
        {
            ValidateWeightOnly(o, model, registry);
            return;
        }
        static bool Is16(QuantType t) => t is QuantType.Int16 or QuantType.UInt16;
        static bool Is4(QuantType t) => t is QuantType.Int4 or QuantType.UInt4;
        bool integerOps = o.Mode == QuantMode.Dynamic || o.Format == QuantFormat.QOperator;

        if (o.ActivationType == QuantType.Int32 || o.WeightType == QuantType.Int32)
            Fail(o.ActivationType == QuantType.Int32 ? nameof(o.ActivationType) : nameof(o.WeightType),
                "Int32 is used only for biases (derived from the input and weight scales); choose Int8, UInt8, Int16, UInt16 (or Int4/UInt4 for weights).");
        if (Is4(o.ActivationType))
            Fail(nameof(o.ActivationType), $"{o.ActivationType} is supported for weights only; use Int8/UInt8 (or Int16/UInt16 in QDQ) for activations.");
        if (integerOps && (Is16(o.ActivationType) || Is16(o.WeightType) || Is4(o.WeightType)))
            Fail(Is16(o.ActivationType) ? nameof(o.ActivationType) : nameof(o.WeightType),
                $"{(o.Mode == QuantMode.Dynamic ? "Dynamic quantization" : "The QOperator format")} supports only 8-bit types; 16-bit and 4-bit types need static quantization in the QDQ format.");
        if (o.ActivationType == QuantType.Int8 && o.WeightType == QuantType.UInt8)
            Fail(nameof(o.WeightType), "Int8 activations with UInt8 weights have no ONNX Runtime kernels; use Int8 weights (the default) or UInt8 activations.");
        if (o.KeepSlowNodesFloat && o.Mode != QuantMode.Static)
            Fail(nameof(o.KeepSlowNodesFloat), "KeepSlowNodesFloat profiles static quantization (QDQ or QOperator); dynamic quantization keeps its slow op types float by rule.");
        if (o.KeepSlowNodesFloat && o.Target != QuantTarget.Host)
            Fail(nameof(o.KeepSlowNodesFloat), $"KeepSlowNodesFloat profiles the model on this machine, so it decides for -Target Host only (got {o.Target}).");
        if (o.KeepSlowNodesFloat) o.SpeedAware.Validate();
        if (o.Mode == QuantMode.Dynamic && o.ActivationType != QuantType.UInt8)
            Fail(nameof(o.ActivationType), $"Dynamic quantization quantizes activations at run time with DynamicQuantizeLinear, which produces UInt8 only; ActivationType must be UInt8 (got {o.ActivationType}).");

        foreach (var (name, r) in o.ActivationRanges)
            if (!float.IsFinite(r.Min) || !float.IsFinite(r.Max) || r.Min > r.Max || !float.IsFinite(r.Max - r.Min))
                Fail(nameof(o.ActivationRanges), $"The range of tensor '{name}' is {r}; a range must be finite with Min <= Max and a width that fits float32 (recalibrate, or override it with TensorOverrides).");

        foreach (var (name, ov) in o.TensorOverrides)
        {
            if (ov.Scale is float s && !(float.IsFinite(s) && s > 0))
                Fail(nameof(o.TensorOverrides), $"The scale override of tensor '{name}' is {s}; a scale must be finite and greater than 0.");
            if (ov.ScaleFactor is float f && !(float.IsFinite(f) && f > 0))
                Fail(nameof(o.TensorOverrides), $"The scale factor of tensor '{name}' is {f}; it must be finite and greater than 0.");
            if ((ov.RangeMin == null) != (ov.RangeMax == null))
                Fail(nameof(o.TensorOverrides), $"Tensor '{name}' overrides only one end of its range; give both RangeMin and RangeMax.");
            if (ov.RangeMin is float lo && ov.RangeMax is float hi && (!float.IsFinite(lo) || !float.IsFinite(hi) || lo > hi))
                Fail(nameof(o.TensorOverrides), $"Tensor '{name}' overrides its range with [{lo}, {hi}]; it must be finite with RangeMin <= RangeMax.");
            if (ov.Type == QuantType.Int32)
                Fail(nameof(o.TensorOverrides), $"Tensor '{name}' overrides its type with Int32, which is for biases only.");
            if (ov.ZeroPoint is int zp)
            {
                var t = ov.Type ?? o.ActivationType;
                var (min, max) = t.StorageRange();
                if (zp < min || zp > max)
                    Fail(nameof(o.TensorOverrides), $"The zero point override of tensor '{name}' is {zp}, outside the {t} range [{min}, {max}].");
            }
        }

        foreach (var p in o.IncludeNodes.Concat(o.ExcludeNodes))
            if (string.IsNullOrWhiteSpace(p)) Fail(nameof(o.ExcludeNodes), "A node-name pattern is empty.");

        if (o.OpTypes.Count > 0 && o.Mode == QuantMode.Static && !registry.HasFallback(o.Format))
        {
            var unknown = o.OpTypes.Where(t => !registry.SupportedOpTypes(o.Format).Contains(t, StringComparer.OrdinalIgnoreCase)).ToList();
            if (unknown.Count > 0)
                Fail(nameof(o.OpTypes), $"Op type(s) {string.Join(", ", unknown)} cannot be quantized in the {o.Format} format; supported: {string.Join(", ", registry.SupportedOpTypes(o.Format))}.");
        }

        if (model != null)
        {
            long opset = model.DefaultOpset;
            // Dynamic MatMul/Gemm/LSTM use com.microsoft ops, which do not depend on the ONNX opset.
            if (o.Mode != QuantMode.Dynamic && opset < OpsetUpgrade.QdqOpset && OpsetUpgrade.BlockerForOpset10(model.Proto.Graph) is string blocker)
                Fail("Model", $"The model uses ONNX opset {opset}; quantized ops need opset 10, and this model cannot simply be raised to it because {blocker} changed meaning in opset 10. Convert the model to opset 10 or later first (e.g. onnx.version_converter).");
            if (o.PerChannel && o.Format == QuantFormat.QDQ && o.Mode == QuantMode.Static && opset < 13 && !o.UseContribOps)
                Fail(nameof(o.PerChannel), $"Per-channel QDQ needs opset 13 (DequantizeLinear with an axis); the model uses opset {opset}. Convert the model to opset 13, quantize per tensor, or set UseContribOps (ONNX Runtime only).");
        }
    }

    private static void ValidateWeightOnly(QuantizationOptions o, OnnxModel? model, OpQuantizerRegistry registry)
    {
        var w = o.WeightOnly ?? throw new QuantizationOptionsException(nameof(o.WeightOnly), "Weight-only quantization needs its options (WeightOnly).");
        if (w.Bits is not (4 or 8))
            Fail("WeightOnly.Bits", $"Weight-only quantization stores 4 or 8 bits per weight (got {w.Bits}).");
        if (w.BlockSize < 16 || w.BlockSize > 256 || (w.BlockSize & (w.BlockSize - 1)) != 0)
            Fail("WeightOnly.BlockSize", $"The block size is a power of two from 16 to 256 (got {w.BlockSize}).");
        if (w.AccuracyLevel is int level && level is < 0 or > 4)
            Fail("WeightOnly.AccuracyLevel", $"MatMulNBits' accuracy level is 0 (unset), 1 (fp32), 2 (fp16), 3 (bf16) or 4 (int8); got {level}.");
        if (w.Method == null) Fail("WeightOnly.Method", "No weight-only method was given.");
        foreach (var p in w.EightBitNodes.Concat(o.IncludeNodes).Concat(o.ExcludeNodes))
            if (string.IsNullOrWhiteSpace(p)) Fail("WeightOnly.EightBitNodes", "A node-name pattern is empty.");
        bool logarithmic = WeightOnly.WeightOnlyDefaults.FormOf(o) == WeightOnly.WeightOnlyForm.Logarithmic;
        if (logarithmic && w.Method.NeedsInputStatistics)
            Fail("WeightOnly.Method", $"The Logarithmic form rounds each weight to its nearest level; {w.Method.Name} is for the block forms (use RTN, or no calibration data).");
        if (w.Scale == WeightScaleMethod.Admm && (logarithmic || w.Method is not WeightOnly.RoundToNearestMethod))
            Fail("WeightOnly.Scale", logarithmic ? "ADMM scales are for linear blocks; the Logarithmic form scales each channel by its largest magnitude."
                : $"ADMM block scales apply to round-to-nearest; {w.Method.Name} chooses its scales itself.");
        if (o.OpTypes.Count > 0)
        {
            var supported = logarithmic ? (IReadOnlyCollection<string>)WeightOnly.LogarithmicWeightOnly.OpTypes : registry.SupportedOpTypes(Rewrite.RewriteFormat.WeightOnly);
            var unknown = o.OpTypes.Where(t => !supported.Contains(t, StringComparer.OrdinalIgnoreCase)).ToList();
            if (unknown.Count > 0)
                Fail(nameof(o.OpTypes), $"Op type(s) {string.Join(", ", unknown)} have no weight-only form; supported: {string.Join(", ", supported)}.");
        }
        if (model != null && WeightOnly.WeightOnlyDefaults.FormOf(o) == WeightOnly.WeightOnlyForm.DequantizeLinear && WeightOnly.Opset21Upgrade.Blocker(model.Proto) is string blocker)
            Fail("WeightOnly.Form", $"The DequantizeLinear form needs opset 21, and {blocker}");
    }

    private static void Fail(string option, string message) => throw new QuantizationOptionsException(option, message);
}
