//! What an HTTPS GET needs of HTTP/1.1: the parts of an `https://` URL, and where a response
//! ends. Shared by the WASI example applications (`https-get` here, `tls-get` by path).

/// The parts of an `https://` URL a GET needs.
pub struct Url {
    pub host: String,
    pub port: u16,
    /// Path and query, `/` when the URL has none.
    pub path: String,
}

impl Url {
    pub fn parse(text: &str) -> Result<Url, String> {
        let rest = text
            .strip_prefix("https://")
            .ok_or_else(|| format!("{text:?} is not an https:// URL"))?;
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let path = if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_owned()
        };
        // `[v6]:port`, `[v6]`, `host:port`, `host`.
        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or_else(|| format!("unclosed [ in {text:?}"))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() || host.contains('@') {
            return Err(format!("{text:?} has no usable host"));
        }
        let port = match port {
            Some(port) => port.parse().map_err(|_| format!("bad port in {text:?}"))?,
            None => 443,
        };
        Ok(Url {
            host: host.to_owned(),
            port,
            path,
        })
    }

    /// The `Host` header's value.
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == 443 {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// Where the response ends, as far as its head tells: a Content-Length body (RFC 9112
/// §6.3), or none at all for 204 and 304. Otherwise (chunked, interim responses, no length)
/// the response runs to the server's close_notify.
#[derive(Default)]
pub struct Framing {
    /// The head so far, until its empty line has arrived.
    head: Vec<u8>,
    /// Head and body length, once the head is in and gives one.
    total: Option<usize>,
    /// Bytes of the response received.
    seen: usize,
}

/// The longest head looked at; past it the response runs to close_notify.
const MAX_HEAD: usize = 64 * 1024;

impl Framing {
    pub fn observe(&mut self, data: &[u8]) {
        self.seen += data.len();
        if self.head.len() >= MAX_HEAD || self.total.is_some() {
            return;
        }
        self.head.extend_from_slice(data);
        if let Some(end) = self.head.windows(4).position(|w| w == b"\r\n\r\n") {
            self.total = body_length(&self.head[..end]).map(|len| end + 4 + len);
            self.head = Vec::new();
        }
    }

    pub fn complete(&self) -> bool {
        self.total.is_some_and(|total| self.seen >= total)
    }
}

/// The body length a response head (without its empty line) declares, if it declares one.
fn body_length(head: &[u8]) -> Option<usize> {
    let head = std::str::from_utf8(head).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    match status {
        204 | 304 => return Some(0),
        // An interim response (103 Early Hints) comes before the real one.
        100..=199 => return None,
        _ => {}
    }
    let mut length = None;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        if name.eq_ignore_ascii_case("transfer-encoding") {
            return None;
        }
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.trim().parse().ok()?);
        }
    }
    length
}
