using Microsoft.ML.OnnxRuntime;

namespace EvoQuant.Tests.Numerics;

/// <summary>Runs a one-input, one-output model on ONNX Runtime's CPU provider, one thread.</summary>
public static class OrtRunner
{
    public static TOut[] Run<TIn, TOut>(byte[] model, TIn[] input, long[] shape) where TIn : unmanaged where TOut : unmanaged
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1 };
        using var session = new InferenceSession(model, options);
        using var x = OrtValue.CreateTensorValueFromMemory(input, shape);
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, new[] { "x" }, new[] { x }, new[] { "y" });
        return results[0].GetTensorDataAsSpan<TOut>().ToArray();
    }
}
