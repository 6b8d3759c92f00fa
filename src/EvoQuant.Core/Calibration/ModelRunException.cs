namespace EvoQuant.Calibration;

/// <summary>ONNX Runtime could not load or run the model being calibrated (a bias of the wrong shape, an
/// input without a type, an operator it does not know). The samples are not at fault: no sample can
/// help, so the run stops. The cmdlets map it to ...ModelNotRunnable.</summary>
public sealed class ModelRunException : Exception
{
    public ModelRunException(string message, Exception inner) : base(message, inner) { }

    internal static bool IsRuntimeFailure(Exception e) =>
        e is Microsoft.ML.OnnxRuntime.OnnxRuntimeException or NotSupportedException;
}
