using EvoQuant.Onnx;

namespace EvoQuant.Quantization;

/// <summary>A stage of quantization and how far it is (0-100), or -1 when a stage has no measure. Reported
/// to a progress object given to <see cref="ModelQuantizer"/> that also implements
/// <c>IProgress&lt;QuantizationProgress&gt;</c>; a plain <c>IProgress&lt;string&gt;</c> gets the stage names.</summary>
public sealed record QuantizationProgress(string Stage, int Percent);

/// <summary>Turns the weight bytes read during a rewrite into a percentage of the model's weights.</summary>
internal static class WeightReadProgress
{
    /// <summary>The model to rewrite from: <paramref name="model"/> itself when nobody listens for percentages,
    /// else a copy that reports each tensor read (weights are read once each, in graph order).</summary>
    public static OnnxModel Observe(OnnxModel model, IProgress<string>? progress, string stage)
    {
        if (progress is not IProgress<QuantizationProgress> percent) return model;
        long total = Math.Max(1, model.WeightBytes);
        long read = 0;
        int last = -1;
        percent.Report(new QuantizationProgress(stage, 0));
        return model.WithReadProgress(bytes =>
        {
            read += bytes;
            int now = (int)Math.Min(99, read * 100 / total); // a weight read twice must not pass 100
            if (now == last) return;
            last = now;
            percent.Report(new QuantizationProgress(stage, now));
        });
    }

    /// <summary>A stage without a measure.</summary>
    public static void Stage(IProgress<string>? progress, string stage)
    {
        if (progress is IProgress<QuantizationProgress> percent) percent.Report(new QuantizationProgress(stage, -1));
        else progress?.Report(stage);
    }
}
