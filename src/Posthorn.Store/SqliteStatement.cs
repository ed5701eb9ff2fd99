using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Posthorn.Store;

/// <summary>One prepared statement run many times in a row (a first scan's 100,000 index rows), or a query of many rows
/// (cached values of a FETCH batch), bound and stepped through SQLite's C interface on the connection's own handle.</summary>
/// <remarks>SqliteCommand costs several microseconds per execution in its own bookkeeping (statement list, parameter
/// objects, a data reader for every step), more than SQLite's work for a small row. The statement runs inside whatever
/// transaction the connection has open, like a command would. Parameters are numbered from 1 in the order of the SQL
/// (<c>?1</c>, <c>?2</c>, …).</remarks>
internal sealed class SqliteStatement : IDisposable
{
    private readonly sqlite3 _db;
    private readonly sqlite3_stmt _stmt;

    public SqliteStatement(SqliteConnection connection, string sql)
    {
        _db = connection.Handle ?? throw new InvalidOperationException("the connection is not open");
        Check(raw.sqlite3_prepare_v2(_db, sql, out _stmt));
    }

    public SqliteStatement Bind(int index, long value)
    {
        Check(raw.sqlite3_bind_int64(_stmt, index, value));
        return this;
    }

    public SqliteStatement Bind(int index, string value)
    {
        Check(raw.sqlite3_bind_text(_stmt, index, value));
        return this;
    }

    public SqliteStatement Bind(int index, ReadOnlySpan<byte> blob)
    {
        Check(raw.sqlite3_bind_blob(_stmt, index, blob));
        return this;
    }

    /// <summary>Steps the statement to its end (it returns no rows) and makes it ready for the next bindings.</summary>
    public void Run()
    {
        int rc = raw.sqlite3_step(_stmt);
        raw.sqlite3_reset(_stmt);
        if (rc != raw.SQLITE_DONE && rc != raw.SQLITE_ROW) Check(rc);
    }

    /// <summary>Steps a query: true when a row is there to read (<see cref="Int64"/>, <see cref="Blob"/>), false at the
    /// end, after which the statement is ready for new bindings.</summary>
    public bool Step()
    {
        int rc = raw.sqlite3_step(_stmt);
        if (rc == raw.SQLITE_ROW) return true;
        raw.sqlite3_reset(_stmt);
        if (rc != raw.SQLITE_DONE) Check(rc);
        return false;
    }

    public long Int64(int column) => raw.sqlite3_column_int64(_stmt, column);

    /// <summary>The octets of a column of the current row, valid until the next step.</summary>
    public ReadOnlySpan<byte> Blob(int column) => raw.sqlite3_column_blob(_stmt, column);

    private void Check(int rc)
    {
        if (rc != raw.SQLITE_OK) throw new SqliteException(raw.sqlite3_errmsg(_db).utf8_to_string(), rc, raw.sqlite3_extended_errcode(_db));
    }

    public void Dispose() => _stmt?.Dispose();
}
