package dev.tp4j.cli;

import dev.tp4j.BadInputException;
import dev.tp4j.CommunicationException;
import dev.tp4j.files.OutputWriteException;
import dev.tp4j.launch.LauncherWatchdog;
import dev.tp4j.tensor.NativeMemoryLimits;
import java.io.InputStream;
import java.io.PrintWriter;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * The {@code tp4j} command. Subcommands are either launcher commands ({@code launch}, {@code demo}) or
 * <em>tasks</em> ({@code verify}, {@code mlp}, {@code bench}, {@code info}): every other subcommand
 * registered below is a task that {@code tp4j launch} can start in its workers, and that runs directly as
 * {@code tp4j TASK} under srun, mpirun or a hand-set environment.
 *
 * <p>To add a task, put its class in {@code subcommands} below: a picocli {@code @Command} implementing
 * {@code Callable<Integer>} (0 ok, 1 mismatch). {@code tp4j launch} makes a fresh instance and parses the
 * task's options once in the launcher to check them, so constructors and option setters must be cheap and
 * free of side effects. Every subcommand gets {@code --help}, {@code --version} and {@code --debug}.
 *
 * <p>Exit status: 0 success; 1 a runtime failure or a mismatch ({@link CommunicationException}, anything
 * unexpected); 2 bad usage or bad input (a picocli {@link ParameterException}, a {@link BadInputException}).
 * A failure prints one line {@code tp4j: <message>} on stderr: no usage text, no stack trace unless the
 * global {@code --debug} is given.
 */
@Command(name = "tp4j",
        mixinStandardHelpOptions = true,
        scope = ScopeType.INHERIT, // --help and --version on every subcommand, tasks included
        versionProvider = Main.Version.class,
        description = "Megatron-style tensor parallelism for the JVM.",
        subcommands = {
            LaunchCommand.class,
            DemoCommand.class,
            VerifyCommand.class,
            MlpCommand.class,
            GenerateCommand.class,
            BenchCommand.class,
            InfoCommand.class,
            CommandLine.HelpCommand.class,
        })
public final class Main implements Callable<Integer> {

    /** Subcommands that are not tasks: {@code tp4j launch} refuses to start them in workers. */
    static final Set<String> LAUNCHER_COMMANDS = Set.of("launch", "demo", "help");

    public static final int EXIT_OK = 0;
    public static final int EXIT_FAILURE = 1;
    public static final int EXIT_USAGE = 2;

    @Spec
    CommandSpec spec;

    @Option(names = "--debug", scope = ScopeType.INHERIT,
            description = "On a failure, print the stack trace as well as the one-line message.")
    boolean debug;

    public static void main(String[] args) {
        NativeMemoryLimits.configure(); // before anything loads JavaCPP, which reads the limits once
        WholeLineOutput.install(); // a line per write: mpirun --tag-output tags each write
        int status;
        try {
            LauncherWatchdog.startIfLaunched(); // a worker of `tp4j launch` stops when its launcher is gone
            status = execute(args);
        } catch (Throwable t) { // the environment variable was malformed
            status = report(t, new PrintWriter(System.err, true), false);
        }
        System.out.flush();
        System.exit(status);
    }

    /** Runs {@code tp4j args...} on this process's stdout and stderr; returns the exit status. */
    public static int execute(String... args) {
        return execute(commandLine(), args);
    }

    /** Runs {@code args} on a command line made by {@link #commandLine}; returns the exit status. */
    public static int execute(CommandLine cl, String... args) {
        try {
            return cl.execute(args);
        } catch (Throwable t) { // an Error that picocli let through
            return report(t, cl.getErr(), isDebug(cl));
        } finally {
            cl.getOut().flush();
            cl.getErr().flush();
        }
    }

    /** The configured {@code tp4j} command line on this process's stdout and stderr. */
    public static CommandLine commandLine() {
        return commandLine(new PrintWriter(System.out, true), new PrintWriter(System.err, true));
    }

    /** The configured {@code tp4j} command line writing to {@code out} and {@code err}. */
    public static CommandLine commandLine(PrintWriter out, PrintWriter err) {
        CommandLine cl = new CommandLine(new Main());
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        // `tp4j launch [launch options] TASK [task options]`: everything after TASK belongs to the task.
        cl.getSubcommands().get("launch").setStopAtPositional(true);
        cl.setOut(out);
        cl.setErr(err);
        cl.setParameterExceptionHandler((ex, args) -> {
            PrintWriter w = ex.getCommandLine().getErr();
            w.println("tp4j: " + oneLine(usageMessage(ex)));
            if (isDebug(ex.getCommandLine())) {
                ex.printStackTrace(w);
            }
            w.flush();
            return EXIT_USAGE;
        });
        cl.setExecutionExceptionHandler((ex, cmd, parseResult) -> report(ex, cmd.getErr(), isDebug(cmd)));
        return cl;
    }

    /**
     * The one line for a usage error. picocli checks required options before it complains about unknown
     * ones, so {@code mlp --bogus} would list every missing option; the unknown option is the mistake to name.
     */
    static String usageMessage(ParameterException ex) {
        if (ex instanceof CommandLine.MissingParameterException) {
            CommandLine.ParseResult parsed = ex.getCommandLine().getParseResult();
            java.util.List<String> unknown = parsed == null ? java.util.List.of() : parsed.unmatched();
            if (!unknown.isEmpty()) {
                return "Unknown option: '" + unknown.get(0) + "' (" + ex.getCommandLine().getCommandName()
                        + " --help lists the options)";
            }
        }
        return ex.getMessage();
    }

    /** With no subcommand: say what is missing, exit 2. */
    @Override
    public Integer call() {
        throw new ParameterException(spec.commandLine(), "missing command: one of launch, demo, or a task ("
                + String.join(", ", LaunchCommand.taskNames(spec)) + "); see tp4j --help");
    }

    /**
     * Whether the global {@code --debug} was given anywhere on the command line that {@code cl} belongs to.
     * Tasks read it here ({@code Main.isDebug(spec.commandLine())}); a task must not declare its own
     * {@code --debug} (picocli refuses the duplicate of this inherited option).
     */
    public static boolean isDebug(CommandLine cl) {
        Object root = cl.getCommandSpec().root().userObject();
        return root instanceof Main m && m.debug;
    }

    /**
     * A task's exit status from its agreed verdict. A failing rank says so on stderr, so the launcher's
     * "rank N exited with status 1" comes with its reason (rank 0's report gives the numbers).
     */
    static int verdict(boolean passed, int rank, String what) {
        if (passed) {
            return EXIT_OK;
        }
        System.err.println("tp4j: " + what + " does not match its float64 reference"
                + (rank == 0 ? " (see the report above)" : " (rank 0's report gives the numbers)"));
        System.err.flush();
        return EXIT_FAILURE;
    }

    /** The exit status for a failure: 2 for bad usage or input, else 1 (the first match in the cause chain). */
    public static int exitCodeOf(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof ParameterException || c instanceof BadInputException) {
                return EXIT_USAGE;
            }
            if (c instanceof CommunicationException) {
                return EXIT_FAILURE;
            }
        }
        return EXIT_FAILURE;
    }

    /** The one-line message for a failure (without the {@code tp4j: } prefix). */
    public static String messageOf(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof ParameterException || c instanceof BadInputException
                    || c instanceof CommunicationException || c instanceof OutputWriteException) {
                return oneLine(c.getMessage()); // each names its culprit; the class name would add nothing
            }
        }
        Throwable root = t;
        while ((root instanceof java.lang.reflect.InvocationTargetException
                || root instanceof java.util.concurrent.ExecutionException
                || root instanceof java.util.concurrent.CompletionException
                || root instanceof CommandLine.ExecutionException) && root.getCause() != null) {
            root = root.getCause();
        }
        String msg = root.getMessage();
        String kind = root.getClass().getSimpleName();
        if (root instanceof OutOfMemoryError) {
            return oneLine("out of memory (" + msg + "); give the JVM more with TP4J_JAVA_OPTS=-Xmx...");
        }
        return oneLine(msg == null || msg.isBlank() ? "internal error: " + kind : kind + ": " + msg);
    }

    /** Prints the failure as one line (plus the stack trace when {@code debug}); returns its exit status. */
    static int report(Throwable t, PrintWriter err, boolean debug) {
        err.println("tp4j: " + messageOf(t));
        if (debug) {
            t.printStackTrace(err);
        }
        err.flush();
        return exitCodeOf(t);
    }

    static String oneLine(String s) {
        if (s == null) {
            return "";
        }
        return s.strip().replaceAll("\\s*\\R\\s*", "; ");
    }

    /** The version from the jar's Maven metadata. */
    static final class Version implements IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = null;
            try (InputStream in = Main.class.getResourceAsStream("/META-INF/maven/dev.tp4j/tp4j/pom.properties")) {
                if (in != null) {
                    Properties p = new Properties();
                    p.load(in);
                    v = p.getProperty("version");
                }
            } catch (java.io.IOException ignored) {
                // fall through
            }
            return new String[] {"tp4j " + (v == null ? "(development build)" : v),
                "Java " + System.getProperty("java.version") + " (" + System.getProperty("java.vm.name") + ")"};
        }
    }
}
