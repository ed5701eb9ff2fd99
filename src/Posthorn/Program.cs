// posthorn: the one executable. It holds no logic: it picks a tool by the name it was called by
// (a wrapper or link named postfix, postconf, sendmail, mailq, …) or by its first argument.
using Posthorn.Daemon.Tools;

return await CommandTable.RunAsync(Environment.GetCommandLineArgs()[0], args, new ToolContext());
