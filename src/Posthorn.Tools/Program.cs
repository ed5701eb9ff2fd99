// posthorn-tools: the native front of posthorn. It runs the one-shot tools itself (OneShotTools: postconf, mailq,
// postqueue, postsuper, sendmail) and hands every other command (postfix start, demo, mail, …) to the managed
// posthorn in the directory above, with the same arguments, by execv(2).
using Posthorn.Daemon.Tools;
using Posthorn.Tools;

string self = Path.GetFileNameWithoutExtension(Environment.GetCommandLineArgs()[0]);
string managed = ManagedPosthorn.Locate();
// Called by a tool's name (a link named mailq), or as posthorn-tools TOOL ARGS….
bool byName = self is not ("posthorn-tools" or "posthorn");
string tool = byName ? self : args.Length > 0 ? args[0] : "";
string[] rest = byName ? args : args.Length > 0 ? args[1..] : [];
if (OneShotTools.Run(tool, rest, new ToolContext { ExecutablePath = managed }) is { } run)
    return await run;
return ManagedPosthorn.Exec(managed, byName ? [self, .. args] : args);
