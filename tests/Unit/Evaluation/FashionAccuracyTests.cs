using Xunit;
using EvoQuant.Evaluation;
using EvoQuant.Onnx;
using EvoQuant.Tests.Support;
using Microsoft.ML.OnnxRuntime;

namespace EvoQuant.Tests.Evaluation;

/// <summary>On the Fashion CNN, the comparer's accuracies equal an independent ORT run + argmax.</summary>
public sealed class FashionAccuracyTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public void FloatAndInt8AccuraciesMatchAnIndependentComputation()
    {
        var reference = FashionWorkload.Model;
        var candidate = FashionWorkload.Int8.Model;
        var labels = FashionWorkload.TestY;

        var report = AccuracyComparer.Compare(reference, candidate, new object[] { TestData.FashionTestX },
            new ComparisonOptions { Labels = labels, BatchSize = 100 });

        var perTensor = AccuracyComparer.Compare(reference, candidate, new object[] { TestData.FashionTestX },
            new ComparisonOptions { Labels = labels, BatchSize = 100, PerTensor = true });
        output.WriteLine($"float {report.Summary.ReferenceAccuracy:F2}%, int8 {report.Summary.CandidateAccuracy:F2}%, drop {report.Summary.AccuracyDrop:F2} points, " +
            $"top-1 agreement {report.Summary.Top1Agreement:F2}%, top-5 {report.Summary.Top5Agreement:F2}%, logits SQNR {report.Outputs[0].Sqnr:F1} dB; " +
            $"{report.Summary.Elapsed.TotalSeconds:F2} s plain, {perTensor.Summary.Elapsed.TotalSeconds:F2} s per-tensor ({perTensor.Tensors.Count} tensors, {perTensor.Nodes.Count} nodes)");
        // Output figures come from the optimized runs in both modes; the per-tensor runs only add rows.
        Assert.Equal(report.Summary.CandidateAccuracy, perTensor.Summary.CandidateAccuracy);
        Assert.Equal(report.Summary.ReferenceAccuracy, perTensor.Summary.ReferenceAccuracy);
        Assert.Equal(report.Outputs[0].Sqnr, perTensor.Outputs[0].Sqnr);

        double floatAcc = IndependentAccuracy(reference, labels);
        double int8Acc = IndependentAccuracy(candidate, labels);
        Assert.Equal(2000, report.Summary.Rows);
        Assert.Equal(20, report.Summary.Batches);
        Assert.Equal(floatAcc, report.Summary.ReferenceAccuracy!.Value, 9);
        Assert.Equal(int8Acc, report.Summary.CandidateAccuracy!.Value, 9);
        Assert.Equal(floatAcc - int8Acc, report.Summary.AccuracyDrop!.Value, 9);
        Assert.Equal(91.25, floatAcc, 9); // the model card's figure (1825 / 2000)
        var logits = Assert.Single(report.Outputs);
        Assert.Equal("logits", logits.Output);
        Assert.True(logits.IsClassifier);
        Assert.InRange(logits.Sqnr, 10, 80);
        Assert.InRange(report.Summary.Top1Agreement!.Value, 90, 100);
        Assert.True(report.Summary.Top5Agreement >= report.Summary.Top1Agreement);
    }

    /// <summary>One ORT run over all 2000 images, argmax per row, compared with the labels.</summary>
    private static double IndependentAccuracy(OnnxModel model, long[] labels)
    {
        var x = FashionWorkload.TestX;
        using var session = new InferenceSession(model.ToBytes());
        using var input = OrtValue.CreateTensorValueFromMemory((float[])x.Data, x.GetShape());
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, new[] { "input" }, new[] { input }, new[] { "logits" });
        var logits = outputs[0].GetTensorDataAsSpan<float>();
        int correct = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            var row = logits.Slice(i * 10, 10);
            int best = 0;
            for (int c = 1; c < 10; c++) if (row[c] > row[best]) best = c;
            if (best == labels[i]) correct++;
        }
        return 100.0 * correct / labels.Length;
    }
}
