using EvoQuant.Numerics;

namespace EvoQuant.Calibration;

/// <summary>The error a range causes on the values a histogram counted: what <see cref="CalibrationMethod.Auto"/>
/// compares the methods by. Each bin's values are taken at its centre, so the histogram must be fine next to
/// the quantization step (Auto's has 2048 bins a side, 8 to 16 per uint8 step at the full range).</summary>
public static class RangeError
{
    /// <summary>Mean squared error of quantizing the counted values to uint8 over [<paramref name="lo"/>,
    /// <paramref name="hi"/>] (asymmetric, 0 exact, the default activation type) and back: rounding inside the
    /// range, clipping outside it. 0 for an empty histogram. Signed histograms only.</summary>
    public static double Mse(HistogramData histogram, float lo, float hi)
    {
        ArgumentNullException.ThrowIfNull(histogram);
        if (histogram.Absolute) throw new ArgumentException("The error of a range needs a signed histogram.", nameof(histogram));
        double w = histogram.BinWidth;
        if (w == 0 || !float.IsFinite(lo) || !float.IsFinite(hi) || lo > hi) return 0;
        var p = QuantParamsCalculator.FromRange(lo, hi, QuantType.UInt8, symmetric: false);
        int qmin = QuantType.UInt8.QMin(), qmax = QuantType.UInt8.QMax();
        double scale = p.Scale;
        double sum = 0;
        long total = 0;
        var counts = histogram.Counts;
        for (int j = 0; j < counts.Length; j++)
        {
            long c = counts[j];
            if (c == 0) continue;
            double x = (histogram.FirstBin + j + 0.5) * w;
            double q = Math.Clamp(Math.Round(x / scale, MidpointRounding.ToEven) + p.ZeroPoint, qmin, qmax);
            double e = x - (q - p.ZeroPoint) * scale;
            sum += c * e * e;
            total += c;
        }
        return total == 0 ? 0 : sum / total;
    }
}
