using System.Text.Json;
using System.Text.Json.Serialization;

namespace EvoQuant.Calibration;

// JSON form of a calibration table. Format "evoquant-calibration", version 1:
// { format, version, model, sampleCount, errorCount, settings{...}, ranges[{tensor, method, min, max,
//   rangeMin, rangeMax, elementCount, batchCount, nonFiniteCount, batchMinSum, batchMaxSum,
//   histogram{absolute, binsPerSide, widthExponent, firstBin, counts[]},
//   candidates[{method, rangeMin, rangeMax, mse}] and modelChoice{uniform, rows, scores[{method, sqnr}]} (Auto only), search{base, factor, baseCosine, cosine, layers, weights[{weight, factor, baseCosine, cosine}]} (EQ only)}], skipped[{tensor, reason}],
//   channelRanges[{tensor, rows, min[], max[]}] (optional: MatMul inputs' per-channel extremes; older readers ignore it) }
public sealed partial class CalibrationTable
{
    public const string JsonFormatName = "evoquant-calibration";
    public const int JsonFormatVersion = 1;

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter() },
    };

    private sealed class FileDto
    {
        public string Format { get; set; } = JsonFormatName;
        public int Version { get; set; } = JsonFormatVersion;
        public string? Model { get; set; }
        public long SampleCount { get; set; }
        public int ErrorCount { get; set; }
        public CalibrationSettings? Settings { get; set; }
        public List<RangeDto> Ranges { get; set; } = new();
        public List<SkippedTensor> Skipped { get; set; } = new();
        public List<ChannelRangeDto>? ChannelRanges { get; set; }
    }

    private sealed class ChannelRangeDto
    {
        public string Tensor { get; set; } = "";
        public long Rows { get; set; }
        public float[]? Min { get; set; }
        public float[]? Max { get; set; }
    }

    private sealed class RangeDto
    {
        public string Tensor { get; set; } = "";
        public CalibrationMethod Method { get; set; }
        public float Min { get; set; }
        public float Max { get; set; }
        public float RangeMin { get; set; }
        public float RangeMax { get; set; }
        public long ElementCount { get; set; }
        public long BatchCount { get; set; }
        public long NonFiniteCount { get; set; }
        public double BatchMinSum { get; set; }
        public double BatchMaxSum { get; set; }
        public HistogramData? Histogram { get; set; }
        public List<MethodCandidate>? Candidates { get; set; }
        public ScaleSearch? Search { get; set; }
        public AutoModelChoice? ModelChoice { get; set; }
    }

    public string ToJson()
    {
        var dto = new FileDto
        {
            Model = ModelName, SampleCount = SampleCount, ErrorCount = ErrorCount, Settings = Settings, Skipped = Skipped.ToList(),
            Ranges = Ranges.Select(r => new RangeDto
            {
                Tensor = r.Tensor, Method = r.Method, Min = r.Min, Max = r.Max, RangeMin = r.RangeMin, RangeMax = r.RangeMax,
                ElementCount = r.ElementCount, BatchCount = r.BatchCount, NonFiniteCount = r.NonFiniteCount,
                BatchMinSum = r.BatchMinSum, BatchMaxSum = r.BatchMaxSum, Histogram = r.Histogram,
                Candidates = r.Candidates?.ToList(), Search = r.Search, ModelChoice = r.ModelChoice,
            }).ToList(),
            ChannelRanges = ChannelRanges.Count == 0 ? null : ChannelRanges.OrderBy(kv => kv.Key, StringComparer.Ordinal)
                .Select(kv => new ChannelRangeDto { Tensor = kv.Key, Rows = kv.Value.Rows, Min = kv.Value.Min, Max = kv.Value.Max }).ToList(),
        };
        return JsonSerializer.Serialize(dto, JsonOptions);
    }

    /// <summary>Reads a table written by <see cref="ToJson"/>; throws <see cref="FormatException"/> for
    /// anything else (another format, a newer version, missing fields).</summary>
    public static CalibrationTable FromJson(string json, string? source = null)
    {
        string where = source != null ? $"'{source}'" : "The text";
        FileDto? dto;
        try { dto = JsonSerializer.Deserialize<FileDto>(json, JsonOptions); }
        catch (JsonException e) { throw new FormatException($"{where} is not a calibration table: {e.Message}", e); }
        if (dto == null || dto.Format != JsonFormatName)
            throw new FormatException($"{where} is not an EvoQuant calibration table (format '{dto?.Format}').");
        if (dto.Version > JsonFormatVersion)
            throw new FormatException($"{where} uses calibration table version {dto.Version}; this EvoQuant reads up to version {JsonFormatVersion}.");
        if (dto.Settings == null) throw new FormatException($"{where} has no settings.");
        if (dto.Ranges == null || dto.Ranges.Any(r => r == null || string.IsNullOrEmpty(r.Tensor)))
            throw new FormatException($"{where} has a range without a tensor name.");
        var ranges = dto.Ranges.Select(r => new TensorRange(r.Tensor, r.Method, r.Min, r.Max, r.RangeMin, r.RangeMax)
        {
            ElementCount = r.ElementCount, BatchCount = r.BatchCount, NonFiniteCount = r.NonFiniteCount,
            BatchMinSum = r.BatchMinSum, BatchMaxSum = r.BatchMaxSum, Histogram = r.Histogram, Candidates = r.Candidates, Search = r.Search, ModelChoice = r.ModelChoice,
        }).ToList();
        ImportedRangeRules.Check(ranges, where);
        var channelRanges = new Dictionary<string, Quantization.Smoothing.ChannelRange>(StringComparer.Ordinal);
        foreach (var c in dto.ChannelRanges ?? new List<ChannelRangeDto>())
        {
            // A hand-edited or truncated file must not give the split a range it would misread.
            if (c == null || string.IsNullOrEmpty(c.Tensor) || c.Min is not { Length: > 0 } || c.Max == null || c.Min.Length != c.Max.Length || c.Rows < 1
                || c.Min.Zip(c.Max).Any(p => !ValidChannelExtremes(p.First, p.Second)))
                throw new FormatException($"{where} has a channel range without a tensor name, rows, or one finite minimum not above its maximum per channel.");
            if (!channelRanges.TryAdd(c.Tensor, new Quantization.Smoothing.ChannelRange(c.Min, c.Max, c.Rows)))
                throw new FormatException($"{where} has two channel ranges of '{c.Tensor}'.");
        }
        try
        {
            return new CalibrationTable(dto.Settings, ranges, dto.Skipped ?? new List<SkippedTensor>())
            {
                ModelName = dto.Model, SampleCount = dto.SampleCount, ErrorCount = dto.ErrorCount, ChannelRanges = channelRanges,
            };
        }
        catch (ArgumentException e) { throw new FormatException($"{where}: {e.Message}", e); }
    }

    // Finite and ordered, or the (+inf, -inf) of a channel that saw no finite value.
    private static bool ValidChannelExtremes(float min, float max) =>
        float.IsFinite(min) && float.IsFinite(max) ? min <= max : float.IsPositiveInfinity(min) && float.IsNegativeInfinity(max);
}
