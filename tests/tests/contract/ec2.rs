//! EC2: the query-protocol checkers against botocore's `ec2/2016-11-15` model — XML answers built
//! from the model itself, form requests as the SDK sends them — and the simulator's EC2 face
//! (`DescribeInstances`) driven by greenfleet's own client, every recorded exchange checked.

use greenfleet_sim::Exchange;
use greenfleet_tests::contract::botocore::Model;
use greenfleet_tests::contract::query::{check_exchange, check_request};
use greenfleet_tests::contract::xml::{Element, check_answer, sample_answer};

fn problems(model: &Model, root: &Element) -> Vec<String> {
    check_answer(model, "DescribeInstances", 200, &root.render()).iter().map(ToString::to_string).collect()
}

/// The first element called `name` inside `el` whose parent is called `parent`, depth first.
fn first<'a>(el: &'a mut Element, parent: &str, name: &str) -> Option<&'a mut Element> {
    if el.name == parent
        && let Some(i) = el.children.iter().position(|c| c.name == name)
    {
        return Some(&mut el.children[i]);
    }
    el.children.iter_mut().find_map(|c| first(c, parent, name))
}

#[test]
fn a_describe_instances_answer_built_from_the_model_conforms_and_mistakes_are_found() {
    let model = Model::load("ec2", "2016-11-15");
    let sample = sample_answer(&model, "DescribeInstances");
    let xml = sample.render();
    assert!(xml.contains("<reservationSet><item>") && xml.contains("<tagSet><item><key>"), "{xml}");
    assert_eq!(problems(&model, &sample), Vec::<String>::new());
    let declared = format!(r#"<?xml version="1.0" encoding="UTF-8"?>{xml}"#).replacen(
        "<DescribeInstancesResponse>",
        r#"<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">"#,
        1,
    );
    assert!(check_answer(&model, "DescribeInstances", 200, &declared).is_empty());

    // What a hand-written EC2 face could get wrong, each found at its place.
    type Mistake = fn(&mut Element);
    let cases: [(Mistake, &str); 7] = [
        (|r| first(r, "item", "key").unwrap().name = "Key".into(), "Tag has no member named <Key>"),
        (|r| first(r, "tagSet", "item").unwrap().name = "member".into(), "a TagList item is <item>, not <member>"),
        (|r| first(r, "instanceState", "code").unwrap().text = "running".into(), "the text is `running`"),
        (|r| first(r, "instanceState", "name").unwrap().text = "RUNNING".into(), "not a value of InstanceStateName"),
        (|r| first(r, "item", "launchTime").unwrap().text = "1767225600".into(), "ISO 8601"),
        (|r| r.children[0].name = "RequestId".into(), "has no member named <RequestId>"),
        (
            |r| {
                first(r, "instancesSet", "item")
                    .unwrap()
                    .children
                    .push(Element { name: "tags".into(), ..Element::default() })
            },
            "Instance has no member named <tags>",
        ),
    ];
    for (mistake, expected) in cases {
        let mut wrong = sample.clone();
        mistake(&mut wrong);
        let found = problems(&model, &wrong);
        assert!(found.iter().any(|p| p.contains(expected)), "expected `{expected}` in {found:#?}");
    }

    let error = "<Response><Errors><Error><Code>InvalidInstanceID.NotFound</Code><Message>The instance ID 'i-1' \
                 does not exist</Message></Error></Errors><RequestID>ea966190</RequestID></Response>";
    assert!(check_answer(&model, "DescribeInstances", 400, error).is_empty());
    assert!(!check_answer(&model, "DescribeInstances", 400, "<Response><Errors/></Response>").is_empty());
}

const REQUEST: &str = "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag%3Agreenfleet%3Arollout\
                       &Filter.1.Value.1=r-1&Filter.2.Name=instance-id&Filter.2.Value.1=i-0abc&Filter.2.Value.2=i-0def\
                       &MaxResults=1000&NextToken=t1";

#[test]
fn a_describe_instances_request_conforms_and_mistakes_are_found() {
    let model = Model::load("ec2", "2016-11-15");
    let (operation, problems) = check_request(&model, REQUEST);
    assert_eq!((operation.as_deref(), problems), (Some("DescribeInstances"), Vec::new()));
    let (_, problems) =
        check_request(&model, "Action=DescribeInstances&Version=2016-11-15&InstanceId.1=i-1&InstanceId.2=i-2");
    assert!(problems.is_empty(), "{problems:?}");

    let cases = [
        ("Filter.1.Value.1=", "Filter.1.Values.1=", "Filter has no member sent as `Values`"),
        ("Filter.2.Value.2=", "Filter.2.Value.3=", "items are not numbered 1..2"),
        ("Filter.1.Name=", "Filter.0.Name=", "items are numbered from 1"),
        ("MaxResults=1000", "MaxResults=many", "is an integer, the value is `many`"),
        ("Version=2016-11-15", "Version=2015-10-01", "request.body.Version"),
        ("Action=DescribeInstances", "Action=DescribeEverything", "is no operation of the model"),
        ("NextToken=t1", "nextToken=t1", "has no member sent as `nextToken`"),
    ];
    for (from, to, expected) in cases {
        assert!(REQUEST.contains(from), "{from}");
        let (_, problems) = check_request(&model, &REQUEST.replacen(from, to, 1));
        assert!(problems.iter().any(|p| p.to_string().contains(expected)), "{to}: `{expected}` not in {problems:#?}");
    }

    let exchange = Exchange {
        method: "POST".into(),
        path: "/".into(),
        query: None,
        request_headers: vec![("content-type".into(), "application/x-www-form-urlencoded; charset=utf-8".into())],
        request_body: REQUEST.into(),
        status: 200,
        response_headers: vec![("content-type".into(), "text/xml;charset=UTF-8".into())],
        response_body: sample_answer(&model, "DescribeInstances").render(),
    };
    assert_eq!(check_exchange(&model, &exchange), Vec::new());
}

#[tokio::test]
async fn every_describe_instances_call_and_answer_follows_botocores_model() {
    use greenfleet_core::ports::{Elastigroups, Instances, RemoteError};
    let model = Model::load("ec2", "2016-11-15");
    let sim = greenfleet_tests::contract::served::ServedSim::start().await;
    let scenario = super::waiting_scenario();
    scenario.install(&sim.cloud);
    let ec2 = sim.ec2().await;
    let listed = sim.cloud.instances(&scenario.group.id).await.expect("the group's instances");
    let mut ids: Vec<_> = listed.iter().map(|i| i.id.clone()).collect();
    let described = ec2.describe(&ids).await.expect("DescribeInstances");
    assert_eq!(described.len(), ids.len(), "{described:?}");
    assert!(described.iter().all(|i| !i.tags.is_empty() && i.private_ip.is_some()), "{described:?}");
    // An id EC2 does not know is absent, not an error; an empty answer conforms too.
    ids.push(greenfleet_core::ids::InstanceId::parse("i-0000000000000dead").expect("an id"));
    assert_eq!(ec2.describe(&ids).await.expect("DescribeInstances").len(), described.len());
    let unknown = [greenfleet_core::ids::InstanceId::parse("i-0000000000000beef").expect("an id")];
    assert!(ec2.describe(&unknown).await.expect("DescribeInstances").is_empty());
    // Throttling and an outage are answered as EC2 does, and the client sorts them: the SDK repeats the
    // throttled call, not the 5xx (the saga retries that, as the next call here does).
    let throttled = RemoteError::Throttled { message: "slow down".into(), retry_after_ms: None };
    sim.cloud.faults(|f| f.fail_next("describe_instances", throttled, 1));
    assert!(ec2.describe(&unknown).await.expect("the SDK retried the throttled call").is_empty());
    sim.cloud.faults(|f| f.fail_next("describe_instances", RemoteError::Unavailable("maintenance".into()), 1));
    let outage = ec2.describe(&unknown).await.expect_err("a 5xx goes back to the caller");
    assert!(matches!(&outage, RemoteError::Unavailable(m) if m.contains("maintenance")), "{outage:?}");
    assert!(ec2.describe(&unknown).await.expect("after the outage").is_empty());

    let exchanges = sim.take();
    assert!(exchanges.iter().any(|e| e.status == 200) && exchanges.iter().any(|e| e.status == 503), "{exchanges:?}");
    super::assert_conform("botocore ec2/2016-11-15", &exchanges, |e| check_exchange(&model, e));
    sim.shutdown().await;
}
