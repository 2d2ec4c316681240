// HeapMetrics: a JVM service holding a known live set, publishing its heap pools on /metrics the
// way Micrometer's JvmMemoryMetrics does through its Prometheus registry (one sample per memory
// pool, tagged area="heap"/"nonheap" and id=<pool name>), for tests/it_heap_jvm.sh.
//
// java HeapMetrics HOST:PORT MIB PAGES: holds MIB MiB in 64 KiB byte arrays (small enough never
// to be a G1 humongous object, which would take whole regions), serves PAGES pages, then exits.
// Before each page it collects (System.gc()) so "used" is the live set, then prints
// "served N used=U committed=C nonheap=X" with the heap MemoryMXBean reports at that instant: the test's
// figure to compare with, taken from another interface than the pools the page is built from.
import com.sun.net.httpserver.HttpServer;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.MemoryUsage;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

public final class HeapMetrics {
    static final List<byte[]> live = new ArrayList<>();
    static int served;

    // a label value as the text format wants it: \ " and newline escaped
    static String escape(String s) {
        return s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }

    static synchronized byte[] page(int pages) {
        System.gc();
        StringBuilder used = new StringBuilder("# TYPE jvm_memory_used_bytes gauge\n");
        StringBuilder committed = new StringBuilder("# TYPE jvm_memory_committed_bytes gauge\n");
        for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
            MemoryUsage u = p.getUsage();
            if (u == null)
                continue;
            String labels = "{area=\"" + (p.getType() == MemoryType.HEAP ? "heap" : "nonheap") + "\",id=\""
                    + escape(p.getName()) + "\"} ";
            used.append("jvm_memory_used_bytes").append(labels).append((double) u.getUsed()).append('\n');
            committed.append("jvm_memory_committed_bytes").append(labels).append((double) u.getCommitted()).append('\n');
        }
        MemoryUsage heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
        served++;
        MemoryUsage nonheap = ManagementFactory.getMemoryMXBean().getNonHeapMemoryUsage();
        System.out.println("served " + served + " used=" + heap.getUsed() + " committed=" + heap.getCommitted()
                + " nonheap=" + nonheap.getUsed());
        System.out.flush();
        return (used.toString() + committed).getBytes(StandardCharsets.UTF_8);
    }

    public static void main(String[] args) throws Exception {
        String[] hp = args[0].split(":");
        int mib = Integer.parseInt(args[1]);
        int pages = Integer.parseInt(args[2]);
        for (int i = 0; i < mib * 16; i++) {
            byte[] b = new byte[64 << 10];
            for (int j = 0; j < b.length; j += 4096)
                b[j] = (byte) i;   // touched: resident, not only reserved
            live.add(b);
        }
        HttpServer server = HttpServer.create(new InetSocketAddress(hp[0], Integer.parseInt(hp[1])), 8);
        server.createContext("/metrics", ex -> {
            byte[] body = page(pages);
            ex.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
            ex.sendResponseHeaders(200, body.length);
            try (OutputStream os = ex.getResponseBody()) {
                os.write(body);
            }
            ex.close();
            synchronized (HeapMetrics.class) {
                if (served >= pages) {
                    System.out.println("done " + live.size());
                    System.out.flush();
                    System.exit(0);
                }
            }
        });
        server.start();
        System.out.println("ready " + live.size() * 64 / 1024 + " MiB");
        System.out.flush();
    }
}
