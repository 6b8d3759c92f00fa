using System.Management.Automation;

namespace EvoQuant.PowerShell.Infrastructure;

/// <summary>An output path refused before anything was written; Reason is the ErrorId suffix.</summary>
internal sealed class OutputRefusedException : IOException
{
    public string OutputPath { get; }
    public string Reason { get; }
    public ErrorCategory Category { get; }
    public string Action { get; }

    public OutputRefusedException(string outputPath, string reason, ErrorCategory category, string message, string action) : base(message)
    {
        OutputPath = outputPath;
        Reason = reason;
        Category = category;
        Action = action;
    }
}
