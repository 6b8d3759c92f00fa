using System.Globalization;
using System.Text;

namespace EvoQuant.Calibration;

// TensorRT calibration cache (the text file an IInt8Calibrator's writeCalibrationCache produces):
//   line 1: "TRT-<version>-<calibrator>", e.g. "TRT-8501-EntropyCalibration2"
//   then one line per tensor: "<tensor name>: <scale>", where <scale> is the 8 lowercase hex digits of
//   the float32 bit pattern of scale = max(|RangeMin|, |RangeMax|) / 127 (symmetric int8).
// Only the scale survives the round trip: an imported table has symmetric ranges and no statistics.
public sealed partial class CalibrationTable
{
    /// <summary>The calibrator name written in the header for this table's method.</summary>
    private string TensorRtCalibratorName => Settings.Method == CalibrationMethod.MinMax ? "MinMaxCalibration" : "EntropyCalibration2";

    public string ToTensorRtCache(int tensorRtVersion = 8501)
    {
        var sb = new StringBuilder();
        sb.Append("TRT-").Append(tensorRtVersion.ToString(CultureInfo.InvariantCulture)).Append('-').Append(TensorRtCalibratorName).Append('\n');
        foreach (var r in Ranges)
        {
            float scale = r.AbsMax / 127f;
            uint bits = BitConverter.SingleToUInt32Bits(scale);
            sb.Append(r.Tensor).Append(": ").Append(bits.ToString("x8", CultureInfo.InvariantCulture)).Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>Reads a TensorRT calibration cache: each tensor gets the range ±127*scale.</summary>
    public static CalibrationTable FromTensorRtCache(string text, string? source = null)
    {
        string where = source != null ? $"'{source}'" : "The text";
        var lines = text.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0).ToList();
        if (lines.Count == 0 || !lines[0].StartsWith("TRT-", StringComparison.Ordinal))
            throw new FormatException($"{where} is not a TensorRT calibration cache: the first line must start with 'TRT-'.");
        var method = lines[0].Contains("Entropy", StringComparison.OrdinalIgnoreCase) ? CalibrationMethod.Entropy : CalibrationMethod.MinMax;
        var ranges = new List<TensorRange>();
        for (int i = 1; i < lines.Count; i++)
        {
            int colon = lines[i].LastIndexOf(':');
            if (colon <= 0 || !uint.TryParse(lines[i].AsSpan(colon + 1).Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out uint bits))
                throw new FormatException($"{where}, line {i + 1}: expected '<tensor>: <8 hex digits>', got '{lines[i]}'.");
            float amax = BitConverter.UInt32BitsToSingle(bits) * 127f;
            ranges.Add(new TensorRange(lines[i][..colon], method, -amax, amax, -amax, amax));
        }
        ImportedRangeRules.Check(ranges, where);
        return new CalibrationTable(new CalibrationSettings { Method = method, Symmetric = true }, ranges);
    }
}
