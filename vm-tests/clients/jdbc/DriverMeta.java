// pgJDBC (Debian's libpostgresql-jdbc-java) against Triad: one check per run, named by the
// first argument; prints what it found and exits 0 only if every assertion held. Run by
// vm-tests/clients/drivers_test.py:
//   java -cp /usr/share/java/postgresql.jar:CLASSES DriverMeta CHECK URL USER PASSWORD [EXPECTED...]

import java.sql.*;
import java.util.*;

public class DriverMeta {
    static void check(boolean cond, String what) {
        if (!cond) throw new AssertionError(what);
        System.out.println("   ok: " + what);
    }

    /** Every row of a result set as column label -> value (getString). */
    static List<Map<String, String>> rows(ResultSet rs) throws SQLException {
        ResultSetMetaData md = rs.getMetaData();
        List<Map<String, String>> out = new ArrayList<>();
        while (rs.next()) {
            Map<String, String> r = new LinkedHashMap<>();
            for (int i = 1; i <= md.getColumnCount(); i++) r.put(md.getColumnLabel(i).toUpperCase(), rs.getString(i));
            out.add(r);
        }
        rs.close();
        return out;
    }

    static List<String> col(List<Map<String, String>> rows, String name) {
        List<String> out = new ArrayList<>();
        for (Map<String, String> r : rows) out.add(r.get(name));
        return out;
    }

    static final List<String> DIMENSIONS = List.of("region", "product", "month");
    static final List<String> COLUMNS = List.of("region", "product", "month", "quarter", "year", "amount", "units");

    public static void main(String[] a) throws Exception {
        String what = a[0];
        Properties p = new Properties();
        p.setProperty("user", a[2]);
        p.setProperty("password", a[3]);
        p.setProperty("ApplicationName", "drivers-" + what);
        p.setProperty("connectTimeout", "5");
        try (Connection c = DriverManager.getConnection(a[1], p)) {
            DatabaseMetaData md = c.getMetaData();
            switch (what) {
                case "connect" -> {
                    check(md.getDatabaseProductName().equals("PostgreSQL"), "getDatabaseProductName = PostgreSQL (" + md.getDatabaseProductName() + ")");
                    String v = md.getDatabaseProductVersion();
                    check(v.matches("\\d+(\\.\\d+)*.*") && md.getDatabaseMajorVersion() >= 12, "getDatabaseProductVersion is a PostgreSQL version >= 12: " + v);
                    check(c.getCatalog().equals("triad"), "getCatalog = triad");
                }
                case "getCatalogs" -> {
                    List<String> cats = col(rows(md.getCatalogs()), "TABLE_CAT");
                    check(cats.contains("triad"), "getCatalogs lists triad: " + cats);
                }
                case "getSchemas" -> {
                    List<Map<String, String>> r = rows(md.getSchemas());
                    List<String> s = col(r, "TABLE_SCHEM");
                    check(s.contains("sales") && s.contains("pg_catalog") && s.contains("information_schema"), "getSchemas lists sales, pg_catalog, information_schema: " + s);
                    check(r.get(s.indexOf("sales")).keySet().containsAll(List.of("TABLE_SCHEM", "TABLE_CATALOG")), "columns TABLE_SCHEM, TABLE_CATALOG: " + r.get(s.indexOf("sales")).keySet());
                }
                case "getTables" -> {
                    List<Map<String, String>> r = rows(md.getTables(null, "sales", "%", new String[]{"TABLE"}));
                    check(col(r, "TABLE_NAME").contains("revenue"), "getTables(sales, TABLE) lists revenue: " + col(r, "TABLE_NAME"));
                    Map<String, String> rev = r.get(col(r, "TABLE_NAME").indexOf("revenue"));
                    check("TABLE".equals(rev.get("TABLE_TYPE")) && "sales".equals(rev.get("TABLE_SCHEM")), "revenue: TABLE_SCHEM sales, TABLE_TYPE TABLE: " + rev);
                }
                case "getColumns" -> {
                    List<Map<String, String>> r = rows(md.getColumns(null, "sales", "revenue", "%"));
                    check(col(r, "COLUMN_NAME").equals(COLUMNS), "getColumns names in order: " + col(r, "COLUMN_NAME"));
                    Map<String, String> type = new HashMap<>(), jdbc = new HashMap<>(), pos = new HashMap<>();
                    for (Map<String, String> x : r) { type.put(x.get("COLUMN_NAME"), x.get("TYPE_NAME")); jdbc.put(x.get("COLUMN_NAME"), x.get("DATA_TYPE")); pos.put(x.get("COLUMN_NAME"), x.get("ORDINAL_POSITION")); }
                    check(Set.of("text", "varchar").contains(type.get("region")) && jdbc.get("region").equals(String.valueOf(Types.VARCHAR)), "region: TYPE_NAME text/varchar, DATA_TYPE VARCHAR: " + type.get("region") + " " + jdbc.get("region"));
                    check(Set.of("int4", "int8").contains(type.get("units")) && Set.of(String.valueOf(Types.INTEGER), String.valueOf(Types.BIGINT)).contains(jdbc.get("units")), "units: TYPE_NAME int4/int8, DATA_TYPE INTEGER/BIGINT: " + type.get("units") + " " + jdbc.get("units"));
                    check(Set.of("numeric", "float8").contains(type.get("amount")) && Set.of(String.valueOf(Types.NUMERIC), String.valueOf(Types.DOUBLE)).contains(jdbc.get("amount")), "amount: TYPE_NAME numeric/float8: " + type.get("amount") + " " + jdbc.get("amount"));
                    check("1".equals(pos.get("region")) && "7".equals(pos.get("units")), "ORDINAL_POSITION 1..7");
                }
                case "getPrimaryKeys" -> {
                    List<Map<String, String>> r = rows(md.getPrimaryKeys(null, "sales", "revenue"));
                    // A cell is addressed by its dimensions: the cube's key is (region, product, month).
                    check(col(r, "COLUMN_NAME").equals(DIMENSIONS), "getPrimaryKeys = the dimensions (region, product, month): " + col(r, "COLUMN_NAME"));
                    check(col(r, "KEY_SEQ").equals(List.of("1", "2", "3")), "KEY_SEQ 1, 2, 3: " + col(r, "KEY_SEQ"));
                }
                case "getIndexInfo" -> {
                    List<Map<String, String>> r = rows(md.getIndexInfo(null, "sales", "revenue", true, false));
                    List<String> cols = new ArrayList<>();
                    for (Map<String, String> x : r) if (x.get("COLUMN_NAME") != null) cols.add(x.get("COLUMN_NAME"));
                    check(r.stream().allMatch(x -> "revenue".equals(x.get("TABLE_NAME")) && Set.of("false", "f").contains(x.get("NON_UNIQUE"))), "getIndexInfo(unique) rows are unique indexes of revenue: " + r);
                    check(cols.equals(DIMENSIONS), "the unique index over the dimensions (region, product, month): " + cols);
                }
                case "getTypeInfo" -> {
                    List<Map<String, String>> r = rows(md.getTypeInfo());
                    Map<String, String> t = new HashMap<>();
                    for (Map<String, String> x : r) t.put(x.get("TYPE_NAME"), x.get("DATA_TYPE"));
                    Map<String, Integer> want = Map.of("int4", Types.INTEGER, "int8", Types.BIGINT, "text", Types.VARCHAR, "numeric", Types.NUMERIC,
                        "float8", Types.DOUBLE, "bool", Types.BIT, "date", Types.DATE, "timestamp", Types.TIMESTAMP, "varchar", Types.VARCHAR);
                    for (var e : want.entrySet())
                        check(String.valueOf(e.getValue()).equals(t.get(e.getKey())), "getTypeInfo: " + e.getKey() + " has DATA_TYPE " + e.getValue() + " (got " + t.get(e.getKey()) + ")");
                }
                case "getFunctions" -> {
                    List<Map<String, String>> r = rows(md.getFunctions(null, "pg_catalog", "%"));
                    List<String> names = col(r, "FUNCTION_NAME");
                    check(names.contains("upper") && names.contains("abs") && names.contains("now"), "getFunctions(pg_catalog) lists upper, abs, now (" + r.size() + " functions)");
                    List<Map<String, String>> c2 = rows(md.getFunctionColumns(null, "pg_catalog", "upper", "%"));
                    check(!c2.isEmpty(), "getFunctionColumns(upper) describes its argument and result: " + c2);
                }
                case "prepared" -> {
                    // a[4] = expected sum(units) for emea; executed 6 times: pgJDBC switches to a
                    // named server-side statement after prepareThreshold (5) executions.
                    try (PreparedStatement ps = c.prepareStatement("SELECT region, sum(units) AS units, count(*) AS cells FROM sales.revenue WHERE region = ? AND month >= ? GROUP BY region")) {
                        for (int i = 0; i < 6; i++) {
                            ps.setString(1, "emea");
                            ps.setString(2, "2025-01");
                            try (ResultSet rs = ps.executeQuery()) {
                                ResultSetMetaData m = rs.getMetaData();
                                check(rs.next(), "run " + (i + 1) + ": one row");
                                check(rs.getString("region").equals("emea") && rs.getLong("units") == Long.parseLong(a[4]) && rs.getLong("cells") == Long.parseLong(a[5]),
                                      "run " + (i + 1) + ": emea " + rs.getString("units") + " units in " + rs.getString("cells") + " cells (expected " + a[4] + ", " + a[5] + ")");
                                check(m.getColumnName(1).equals("region") && m.getColumnName(2).equals("units") && m.getColumnName(3).equals("cells"), "column names region, units, cells");
                                check(Set.of("int8", "numeric").contains(m.getColumnTypeName(2)) && m.getColumnTypeName(3).equals("int8") && Set.of("text", "varchar").contains(m.getColumnTypeName(1)),
                                      "column types text, int8 or numeric (sum of an integer), int8 (count): " + m.getColumnTypeName(1) + ", " + m.getColumnTypeName(2) + ", " + m.getColumnTypeName(3));
                                check(!rs.next(), "no second row");
                            }
                        }
                    }
                }
                default -> throw new IllegalArgumentException("unknown check " + what);
            }
        }
    }
}
