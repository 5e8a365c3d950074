//! The long tail of nginx 1.22's http core module, against nginx's behaviour: the
//! proxied location's automatic redirect, `index` with variables, redirects that carry
//! the Host lowercased, and the smaller directives (see each test).

mod common;

use common::{Server, show};

fn start(http_body: &str) -> Server {
    Server::start_with(1, http_body, |p| {
        p.write("html/index.html", "home");
        p.write("html/d/index.html", "dir index");
        p.write("html/localhost.html", "by server name");
        p.write("html/v/localhost.html", "v by server name");
    })
}

#[test]
fn proxied_location_redirects_the_uri_without_its_slash() {
    let server = start(
        "server { listen 127.0.0.1:PORT; server_name localhost;\n\
           location /a/ { proxy_pass http://127.0.0.1:1/; }\n\
           location /a-a { return 204; }\n\
           location = /b/ { proxy_pass http://127.0.0.1:1/; }\n\
           location /c { return 200 c; }\n\
           location /c/ { proxy_pass http://127.0.0.1:1/; }\n\
           location ~ ^/a$ { return 200 regex; } }",
    );
    for (uri, location) in [("/a", "/a/"), ("/a?x=1", "/a/?x=1"), ("/b", "/b/")] {
        let r = server.get(uri);
        assert_eq!(r.status, 301, "{uri}: {}", show(&r));
        let port = server.port;
        let expected = format!("http://localhost:{port}{location}");
        assert_eq!(r.header("Location"), Some(expected.as_str()), "{uri}");
    }
    // A location named as the URI itself wins.
    assert_eq!(server.get("/c").text(), "c");
    assert_eq!(server.get("/a-a").status, 204);
}

#[test]
fn index_names_with_variables() {
    let server = start(
        "server { listen 127.0.0.1:PORT; server_name localhost;\n\
           location /v/ { index nonexisting.html ${server_name}.html; }\n\
           location /r/ { index /$server_name.html; }\n\
           location / { } }",
    );
    let r = server.get("/v/");
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "v by server name"),
        "{}",
        show(&r)
    );
    let r = server.get("/r/");
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "by server name"),
        "{}",
        show(&r)
    );
    assert_eq!(server.get("/d/").text(), "dir index");
}
