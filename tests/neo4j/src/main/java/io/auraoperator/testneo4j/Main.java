package io.auraoperator.testneo4j;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.Map;
import java.util.stream.Stream;

import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.harness.Neo4j;
import org.neo4j.harness.Neo4jBuilders;
import org.neo4j.server.configuration.ConfigurableServerModules;
import org.neo4j.server.configuration.ServerSettings;

/**
 * A throwaway Neo4j server for the integration tests.
 *
 * <pre>
 *   Main --port P --password PW --dir D
 * </pre>
 *
 * Starts an in-process Neo4j (community edition, via the test harness) in a
 * fresh temporary directory under D, with authentication on, the HTTP
 * connector (Query API) on 127.0.0.1:P (0 = a free port), HTTPS off and Bolt
 * on a free loopback port (Bolt cannot be switched off: the Query API runs
 * its queries through the Bolt stack). The user {@code neo4j} gets password
 * PW without a forced change.
 *
 * Prints exactly one line, {@code ready http://127.0.0.1:<port>}, on stdout
 * once {@code POST /db/neo4j/query/v2} answers {@code RETURN 1} with the
 * password; everything else goes to stderr or to the log files in the work
 * directory. Runs until stdin reaches EOF or the process gets SIGTERM, then
 * shuts down and removes its work directory. If it fails to start, the tail
 * of Neo4j's debug.log goes to stderr first (the harness deletes its
 * directory on close).
 */
public final class Main {
    private static final Duration READY_TIMEOUT = Duration.ofSeconds(120);

    private static final Object LOCK = new Object();
    private static Neo4j neo4j;
    private static Path workDir;
    private static boolean stopped;

    private Main() {}

    public static void main(String[] args) {
        try {
            run(args);
        } catch (Throwable t) {
            System.err.print("test-neo4j: failed: ");
            t.printStackTrace();
            printDebugLogTail(80);
            System.exit(1);
        }
    }

    private static void run(String[] args) throws Exception {
        // Only the ready line may reach stdout: whatever Neo4j or its
        // libraries print goes to stderr.
        PrintStream stdout =
                new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
        System.setOut(System.err);

        Integer port = null;
        String password = null;
        Path dir = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--port" -> port = Integer.parseInt(value(args, ++i));
                case "--password" -> password = value(args, ++i);
                case "--dir" -> dir = Path.of(value(args, ++i));
                default -> usage("unknown argument " + args[i]);
            }
        }
        if (port == null || password == null || dir == null) {
            usage("--port, --password and --dir are required");
        }
        if (port < 0 || port > 65535) {
            usage("bad port " + port);
        }
        if (password.isEmpty()) {
            usage("the password must not be empty");
        }

        Files.createDirectories(dir);
        workDir = Files.createTempDirectory(dir.toAbsolutePath(), "neo4j-");
        log("work directory " + workDir + " (logs: neo4j.log, debug.log, http.log under it)");

        Runtime.getRuntime().addShutdownHook(new Thread(Main::shutdown, "test-neo4j-shutdown"));

        long started = System.nanoTime();
        Neo4j server = Neo4jBuilders.newInProcessBuilder(workDir)
                // No "anonymous usage data" calls home from a test server.
                .withConfig(GraphDatabaseSettings.udc_enabled, false)
                .withConfig(GraphDatabaseSettings.auth_enabled, true)
                // Tests pick any password, and probe wrong ones without
                // locking the user out.
                .withConfig(GraphDatabaseSettings.auth_minimum_password_length, 1)
                .withConfig(GraphDatabaseSettings.auth_max_failed_attempts, 0)
                .withConfig(HttpConnector.enabled, true)
                .withConfig(HttpConnector.listen_address, new SocketAddress("127.0.0.1", port))
                .withConfig(HttpConnector.advertised_address, new SocketAddress("127.0.0.1", port))
                .withConfig(HttpsConnector.enabled, false)
                .withConfig(BoltConnector.enabled, true)
                .withConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", 0))
                .withConfig(BoltConnector.advertised_address, new SocketAddress("127.0.0.1", 0))
                .withConfig(
                        ServerSettings.http_enabled_modules,
                        EnumSet.of(
                                ConfigurableServerModules.TRANSACTIONAL_ENDPOINTS,
                                ConfigurableServerModules.QUERY_API_ENDPOINTS))
                .withConfig(ServerSettings.http_logging_enabled, true)
                // Stop in about a second instead of ~12 s of Bolt/Netty grace
                // periods (internal settings; fine for a throwaway server).
                .withConfig(BoltConnectorInternalSettings.connection_shutdown_wait_time, Duration.ZERO)
                .withConfig(BoltConnectorInternalSettings.thread_pool_shutdown_wait_time, Duration.ofMillis(500))
                .withConfig(GraphDatabaseInternalSettings.netty_server_shutdown_quiet_period, 0)
                .withConfig(GraphDatabaseInternalSettings.netty_server_shutdown_timeout, Duration.ofSeconds(1))
                .build();
        synchronized (LOCK) {
            neo4j = server;
            if (stopped) {
                // SIGTERM arrived while it was starting.
                server.close();
                return;
            }
        }

        setPassword(server, password);

        int realPort = server.httpURI().getPort();
        String base = "http://127.0.0.1:" + realPort;
        waitForQueryApi(base, password);
        log(String.format(
                "Neo4j %s up in %.1f s: http %s, bolt %s",
                neo4jVersion(server),
                (System.nanoTime() - started) / 1e9,
                base,
                server.boltURI()));
        stdout.println("ready " + base);
        stdout.flush();

        // Runs until stdin reaches EOF (the owner went away or closed it).
        InputStream in = System.in;
        byte[] buf = new byte[256];
        try {
            while (in.read(buf) >= 0) {
                // ignore input
            }
        } catch (IOException e) {
            log("reading stdin: " + e);
        }
        log("stdin closed; shutting down");
        System.exit(0); // the shutdown hook stops Neo4j
    }

    private static void setPassword(Neo4j server, String password) {
        var system = server.databaseManagementService().database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME);
        if (password.equals("neo4j")) {
            // Neo4j refuses to "change" a password to the one it has.
            system.executeTransactionally("ALTER USER neo4j SET PASSWORD CHANGE NOT REQUIRED");
        } else {
            system.executeTransactionally(
                    "ALTER USER neo4j SET PASSWORD $password CHANGE NOT REQUIRED", Map.of("password", password));
        }
    }

    private static String neo4jVersion(Neo4j server) {
        try {
            return server.defaultDatabaseService()
                    .executeTransactionally(
                            "CALL dbms.components() YIELD versions RETURN versions[0] AS v",
                            Map.of(),
                            r -> String.valueOf(r.next().get("v")));
        } catch (RuntimeException e) {
            return "(version unknown: " + e.getMessage() + ")";
        }
    }

    /** Polls the Query API with RETURN 1 until it answers with a result. */
    private static void waitForQueryApi(String base, String password) throws Exception {
        HttpClient client = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5))
                .build();
        String auth = "Basic "
                + Base64.getEncoder().encodeToString(("neo4j:" + password).getBytes(StandardCharsets.UTF_8));
        HttpRequest request = HttpRequest.newBuilder(URI.create(base + "/db/neo4j/query/v2"))
                .timeout(Duration.ofSeconds(10))
                .header("Authorization", auth)
                .header("Content-Type", "application/json")
                .header("Accept", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"statement\": \"RETURN 1\"}"))
                .build();
        long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
        String last = "no answer";
        while (System.nanoTime() < deadline) {
            try {
                HttpResponse<String> response = client.send(request, HttpResponse.BodyHandlers.ofString());
                // The Query API answers 202 Accepted on success.
                if (response.statusCode() / 100 == 2 && response.body().contains("\"values\"")) {
                    return;
                }
                last = "HTTP " + response.statusCode() + ": " + response.body();
            } catch (IOException e) {
                last = e.toString();
            }
            Thread.sleep(200);
        }
        throw new IllegalStateException("the Query API at " + base + " did not answer within "
                + READY_TIMEOUT.toSeconds() + " s; last: " + last);
    }

    private static void shutdown() {
        synchronized (LOCK) {
            if (stopped) {
                return;
            }
            stopped = true;
            if (neo4j != null) {
                log("stopping Neo4j");
                try {
                    neo4j.close();
                } catch (RuntimeException e) {
                    log("stopping Neo4j: " + e);
                }
            }
            if (workDir != null) {
                deleteTree(workDir);
            }
            log("stopped");
        }
    }

    /** Copies the last lines of Neo4j's debug.log (if any) to stderr. */
    private static void printDebugLogTail(int lines) {
        if (workDir == null) {
            return;
        }
        try (Stream<Path> paths = Files.walk(workDir)) {
            for (Path log : (Iterable<Path>) paths.filter(p -> p.getFileName().toString().equals("debug.log"))::iterator) {
                var all = Files.readAllLines(log, StandardCharsets.UTF_8);
                System.err.println("test-neo4j: last lines of " + log + ":");
                all.subList(Math.max(0, all.size() - lines), all.size()).forEach(System.err::println);
            }
        } catch (IOException | RuntimeException e) {
            log("reading debug.log: " + e);
        }
    }

    private static void deleteTree(Path root) {
        try (Stream<Path> paths = Files.walk(root)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            log("removing " + root + ": " + e);
        }
    }

    private static String value(String[] args, int i) {
        if (i >= args.length) {
            usage(args[i - 1] + " needs a value");
        }
        return args[i];
    }

    private static void usage(String problem) {
        System.err.println("test-neo4j: " + problem);
        System.err.println("usage: Main --port P --password PW --dir D");
        System.exit(2);
    }

    private static void log(String message) {
        System.err.println("test-neo4j: " + message);
    }
}
