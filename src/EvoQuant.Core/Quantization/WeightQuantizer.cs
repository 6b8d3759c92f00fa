using EvoQuant.Numerics;

namespace EvoQuant.Quantization;

/// <summary>A constant quantized offline: the integer data as ONNX raw bytes (4-bit packed two to a
/// byte, low nibble first) and one parameter set per tensor or per slice along <see cref="Axis"/>.</summary>
public sealed record QuantizedTensor(byte[] Raw, long[] Dims, QuantType Type, QuantParams[] Params, int? Axis)
{
    /// <summary>Scales widened plus pairs pulled back so that no pair of products can saturate a 16-bit
    /// sum; 0 when no guard was asked for or none was needed.</summary>
    public int PairSafeChanges { get; init; }
}

/// <summary>Quantizes weight data with parameters from <see cref="QuantParamsCalculator"/>:
/// <c>q = saturate(round_half_to_even(x / scale) + zero_point)</c>, as QuantizeLinear computes it.</summary>
public static class WeightQuantizer
{
    /// <param name="ov">A user's override of the tensor's type, range, scale or zero point.</param>
    /// <param name="pairSafe">When given (int8 symmetric weights only), scales are chosen and pairs pulled back
    /// so that no adjacent pair along this layout can saturate x86's 16-bit pair sums; see <see cref="PairSaturation"/>.</param>
    /// <param name="tensorName">Named in errors.</param>
    /// <param name="numerics">Scale search and rounding (null: max-abs scales, round to nearest). A user's
    /// override of the range or scale is kept as given; pair-safe scales (when <paramref name="pairSafe"/> applies)
    /// replace a searched scale, since they exist to keep the kernel from saturating.</param>
    /// <exception cref="InvalidWeightException">The data holds NaN or infinity, or its range gives no finite scale.</exception>
    public static QuantizedTensor Quantize(ReadOnlySpan<float> data, long[] dims, QuantType type, bool symmetric, bool reduceRange, int? axis, TensorOverride? ov = null,
        ReductionLayout? pairSafe = null, string? tensorName = null, WeightNumerics? numerics = null)
    {
        numerics ??= WeightNumerics.Default;
        CheckFinite(data, tensorName);
        if (ov?.Type is QuantType t) type = t;
        // A user-given range or scale is one value for the whole tensor.
        bool userParams = ov is { RangeMin: not null } or { RangeMax: not null } or { Scale: not null } or { ZeroPoint: not null };
        if (userParams) axis = null;
        if (axis is int a && (a < 0 || a >= dims.Length)) throw new ArgumentOutOfRangeException(nameof(axis), a, $"Axis out of range for rank {dims.Length}.");

        // A weight read in several layouts cannot be made pair-safe by one scale per channel: 7 bits.
        if (pairSafe is { OutputAxis: < 0 }) { reduceRange = type == QuantType.Int8 || reduceRange; pairSafe = null; }

        QuantParams[] ps;
        if (axis is int ax)
            ps = QuantParamsCalculator.PerAxis(data, dims, ax, type, symmetric, reduceRange);
        else
        {
            float lo = ov?.RangeMin ?? Min(data), hi = ov?.RangeMax ?? Max(data);
            var p = QuantParamsCalculator.FromRange(lo, hi, type, symmetric, reduceRange);
            if (ov?.Scale is float s) p = p with { Scale = s };
            if (ov?.ZeroPoint is int z) p = p with { ZeroPoint = z };
            ps = new[] { p };
        }

        foreach (var p in ps)
            if (!float.IsFinite(p.Scale))
                throw new InvalidWeightException(tensorName, $"has values too large to quantize (scale {p.Scale})");
        if (numerics.Scale == WeightScaleMethod.Admm && !userParams)
            ps = AdmmScale.Refine(data, dims, axis, ps, type.QMin(reduceRange, symmetric), type.QMax(reduceRange, symmetric));

        int changes = 0;
        var pairs = pairSafe != null && type == QuantType.Int8 && symmetric && !reduceRange && !userParams
            ? PairSaturation.PairIndex.Build(dims, pairSafe, data.Length) : null;
        if (pairs != null) (ps, changes) = WidenForPairs(data, dims, pairs, ps, axis, pairSafe!);
        // A searched factor (EQ) scales the final scales; the pair clipping below still keeps them safe.
        if (ov?.ScaleFactor is float factor && factor != 1f && !userParams)
            ps = ps.Select(p => p with { Scale = p.Scale * factor }).ToArray();

        if (type is QuantType.Int8 or QuantType.UInt8 && numerics.Rounding == WeightRounding.Nearest)
        {
            var raw = Quantize8(data, dims, type, ps, axis);
            // Float rounding of the scale can leave a pair one step over the safe sum: pulled back to it.
            if (pairs != null)
            {
                var scales = axis == pairSafe!.OutputAxis ? ps.Select(p => p.Scale).ToArray() : new[] { ps[0].Scale };
                changes += PairSaturation.ClipPairs(data, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, sbyte>(raw.AsSpan()), pairs, scales);
            }
            return new QuantizedTensor(raw, dims, type, ps, axis) { PairSafeChanges = changes };
        }

        var q = new int[data.Length];
        var (qmin, qmax) = type.StorageRange();
        long inner = 1;
        int channels = 1;
        if (axis is int ax2)
        {
            channels = (int)dims[ax2];
            for (int d = ax2 + 1; d < dims.Length; d++) inner *= dims[d];
        }
        var stochastic = numerics.Rounding == WeightRounding.Stochastic ? new StochasticRounding(numerics.Seed, tensorName) : null;
        for (int i = 0; i < data.Length; i++)
        {
            var p = ps[channels == 1 ? 0 : (int)(i / inner % channels)];
            q[i] = stochastic?.Quantize(data[i], p.Scale, p.ZeroPoint, qmin, qmax) ?? QuantizeOne(data[i], p.Scale, p.ZeroPoint, qmin, qmax);
        }
        var packed = Pack(q, type);
        if (pairs != null)
        {
            var scales = axis == pairSafe!.OutputAxis ? ps.Select(p => p.Scale).ToArray() : new[] { ps[0].Scale };
            changes += PairSaturation.ClipPairs(data, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, sbyte>(packed.AsSpan()), pairs, scales);
        }
        return new QuantizedTensor(packed, dims, type, ps, axis) { PairSafeChanges = changes };
    }

    /// <summary>Quantizes <paramref name="data"/> again with parameters already chosen (a weight scale widened
    /// after the fact), through the same kernels as <see cref="Quantize"/>; returns ONNX raw bytes.</summary>
    public static byte[] QuantizeWith(ReadOnlySpan<float> data, long[] dims, QuantParams[] ps, int? axis)
    {
        var type = ps[0].Type;
        if (type is QuantType.Int8 or QuantType.UInt8) return Quantize8(data, dims, type, ps, axis);
        var q = new int[data.Length];
        var (qmin, qmax) = type.StorageRange();
        long inner = axis is int a ? Inner(dims, a) : 1;
        int channels = axis is int ax ? (int)dims[ax] : 1;
        for (int i = 0; i < data.Length; i++)
        {
            var p = ps[channels == 1 ? 0 : (int)(i / inner % channels)];
            q[i] = QuantizeOne(data[i], p.Scale, p.ZeroPoint, qmin, qmax);
        }
        return Pack(q, type);
    }

    /// <summary>Pair-safe symmetric int8 parameters (<see cref="PairSaturation.ChooseScales"/>), per channel
    /// when the channel axis is the layout's output axis, else one scale for every channel.</summary>
    private static (QuantParams[], int) WidenForPairs(ReadOnlySpan<float> data, long[] dims, PairSaturation.PairIndex pairs, QuantParams[] ps, int? axis, ReductionLayout layout)
    {
        bool perChannel = axis == layout.OutputAxis && ps.Length == dims[layout.OutputAxis];
        var (scales, widened) = PairSaturation.ChooseScales(data, pairs, perChannel);
        var result = new QuantParams[ps.Length];
        for (int c = 0; c < ps.Length; c++)
            result[c] = ps[c] with { Scale = scales[perChannel ? c : 0], ZeroPoint = 0 };
        return (result, perChannel ? widened : widened * ps.Length);
    }

    private static void CheckFinite(ReadOnlySpan<float> data, string? tensorName)
    {
        for (int i = 0; i < data.Length; i++)
        {
            if (!float.IsFinite(data[i]))
                throw new InvalidWeightException(tensorName, $"holds {data[i]} at element {i}");
        }
    }

    /// <summary>8-bit weights through the SIMD kernels (the bulk of every model).</summary>
    private static byte[] Quantize8(ReadOnlySpan<float> data, long[] dims, QuantType type, QuantParams[] ps, int? axis)
    {
        var raw = new byte[data.Length];
        var scales = ps.Select(p => p.Scale).ToArray();
        if (type == QuantType.Int8)
        {
            var y = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, sbyte>(raw.AsSpan());
            var zps = ps.Select(p => (sbyte)p.ZeroPoint).ToArray();
            if (axis is int a) Kernels.QuantizePerAxis(data, y, (int)dims[a], Inner(dims, a), scales, zps);
            else Kernels.Quantize(data, y, scales[0], zps[0]);
        }
        else
        {
            var zps = ps.Select(p => (byte)p.ZeroPoint).ToArray();
            if (axis is int a) Kernels.QuantizePerAxis(data, raw, (int)dims[a], Inner(dims, a), scales, zps);
            else Kernels.Quantize(data, raw, scales[0], zps[0]);
        }
        return raw;
    }

    private static int Inner(long[] dims, int axis)
    {
        long inner = 1;
        for (int d = axis + 1; d < dims.Length; d++) inner *= dims[d];
        return checked((int)inner);
    }

    internal static int QuantizeOne(float x, float scale, int zeroPoint, int qmin, int qmax)
    {
        float v = x / scale;
        if (float.IsNaN(v)) return Math.Clamp(zeroPoint, qmin, qmax);
        double r = Math.Round((double)v, MidpointRounding.ToEven) + zeroPoint;
        return (int)Math.Clamp(r, qmin, qmax);
    }

    /// <summary>Integers of <paramref name="type"/> as ONNX raw_data bytes.</summary>
    public static byte[] Pack(ReadOnlySpan<int> q, QuantType type)
    {
        switch (type.BitWidth())
        {
            case 4:
                var packed = new byte[(q.Length + 1) / 2];
                for (int i = 0; i < q.Length; i++)
                    packed[i / 2] |= (byte)((q[i] & 0xF) << (i % 2 == 0 ? 0 : 4));
                return packed;
            case 8:
                var b = new byte[q.Length];
                for (int i = 0; i < q.Length; i++) b[i] = (byte)q[i];
                return b;
            case 16:
                var s = new byte[q.Length * 2];
                for (int i = 0; i < q.Length; i++) System.Buffers.Binary.BinaryPrimitives.WriteInt16LittleEndian(s.AsSpan(i * 2), (short)q[i]);
                return s;
            default:
                var w = new byte[q.Length * 4];
                for (int i = 0; i < q.Length; i++) System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(w.AsSpan(i * 4), q[i]);
                return w;
        }
    }

    private static float Min(ReadOnlySpan<float> d)
    {
        float m = float.PositiveInfinity;
        foreach (float v in d) if (v < m) m = v;
        return float.IsPositiveInfinity(m) ? 0 : m;
    }

    private static float Max(ReadOnlySpan<float> d)
    {
        float m = float.NegativeInfinity;
        foreach (float v in d) if (v > m) m = v;
        return float.IsNegativeInfinity(m) ? 0 : m;
    }
}
