using System.Management.Automation;
using EvoQuant.Onnx;

namespace EvoQuant.PowerShell.Infrastructure;

/// <summary>Lets a model parameter take a model object, a path or a FileInfo: `-Model ./m.onnx` and
/// `-Model $m` both work, as does any object that carries a model in a Model property.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class ModelTransformationAttribute : ArgumentTransformationAttribute
{
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        try { return ModelArgument.Resolve(inputData, engineIntrinsics.SessionState); }
        catch (OnnxModelException e) { throw new ArgumentTransformationMetadataException(e.Message, e); }
        catch (ArgumentException e) { throw new ArgumentTransformationMetadataException(e.Message, e); }
    }
}

/// <summary>Turns what a user passes as a model into an <see cref="OnnxModel"/>.</summary>
internal static class ModelArgument
{
    /// <exception cref="OnnxModelException">The path does not hold a loadable model.</exception>
    /// <exception cref="ArgumentException">The value is nothing a model can come from.</exception>
    public static OnnxModel Resolve(object? input, SessionState sessionState)
    {
        object? value = PipelineValues.Unwrap(input);
        switch (value)
        {
            case OnnxModel model:
                return model;
            case FileInfo file:
                return OnnxModel.Load(file.FullName);
            case string path:
                return OnnxModel.Load(sessionState.Path.GetUnresolvedProviderPathFromPSPath(path));
            case null:
                throw new ArgumentException("No model was given.");
            default:
                // Objects that carry a model (a calibration table, a quantization result) expose it as .Model.
                var property = PSObject.AsPSObject(value).Properties["Model"];
                if (PipelineValues.Unwrap(property?.Value) is OnnxModel carried) return carried;
                throw new ArgumentException($"Cannot use a {value.GetType().Name} as a model; give a path, a FileInfo or a model from Get-OnnxGraph.");
        }
    }
}
