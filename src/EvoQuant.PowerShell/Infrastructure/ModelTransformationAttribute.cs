using System.Management.Automation;

namespace EvoQuant.PowerShell.Infrastructure;

/// <summary>Lets a model parameter (typed <see cref="ModelReference"/>) take a model object, a path, a
/// FileInfo, a quantization result or a calibration table that carries its model: `-Model ./m.onnx` and
/// `-Model $m` both work. Nothing is loaded while binding: a path is only resolved against the current
/// location, so a model that does not load is reported by the cmdlet with its specific ErrorId
/// (...ModelNotFound, ...ModelCorrupt, ...ExternalDataOutsideFolder), not as a binding error.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class ModelTransformationAttribute : ArgumentTransformationAttribute
{
    public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
    {
        // Null stays null (an optional parameter bound by property name to an empty property);
        // values that name no model at all are refused here, as a type mismatch is.
        if (PipelineValues.Unwrap(inputData) is null) return null;
        try { return ModelReference.From(inputData, p => engineIntrinsics.SessionState.Path.GetUnresolvedProviderPathFromPSPath(p)); }
        catch (ArgumentException e)
        {
            throw new ArgumentTransformationMetadataException(e.Message, e);
        }
    }
}
