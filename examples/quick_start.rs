//! The README's quick start, compiled by CI so the README cannot drift: `cargo run --example quick_start`
//! (expects a server on 127.0.0.1:8080).
use weir::client::Client;
use weir::http::Request;

fn main() -> Result<(), weir::Error> {
    // Async, on weir's own loop.
    weir::rt::block_on(async {
        let client = Client::builder()
            .max_connections_per_host(8)
            .timeout(Some(std::time::Duration::from_secs(10)))
            .build();
        let resp = client.get("http://127.0.0.1:8080/").await?;
        println!("{} {:?}", resp.status(), resp.headers().get("content-type"));
        let mut body = resp.into_body();
        while let Some(chunk) = body.next_chunk().await? {
            println!("{} bytes", chunk.len());
        }
        let req = Request::post("http://127.0.0.1:8080/upload")
            .header("content-type", "text/plain")
            .body("hello")
            .build()?;
        let text = client.send(req).await?.into_body().text().await?;
        println!("{text}");
        Ok::<_, weir::Error>(())
    })?;

    // Blocking, from any thread.
    let client = weir::blocking::Client::new();
    let text = client.get("http://127.0.0.1:8080/")?.into_body().text()?;
    println!("{text}");
    Ok(())
}
