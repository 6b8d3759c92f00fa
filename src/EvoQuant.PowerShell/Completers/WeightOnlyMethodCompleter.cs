using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using EvoQuant.Quantization.WeightOnly;

namespace EvoQuant.PowerShell.Completers;

/// <summary>The weight-only methods known by name (for -WeightOnlyMethod), read from Core's
/// <see cref="WeightOnlyMethods"/>, so a method registered there completes too.</summary>
public sealed class WeightOnlyMethodCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        ModelArgumentCompleter.Complete(WeightOnlyMethods.Names.Select(name =>
            (name, WeightOnlyMethods.Find(name)!.NeedsInputStatistics ? $"{name}: uses -CalibrationData" : $"{name}: needs no calibration data")), wordToComplete);
}
