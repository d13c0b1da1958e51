"""Photo folders: EXIF GPS and time, the DJI XMP packet, photos as frames, and refusals.
Photos are written here with Pillow (EXIF with a GPS IFD, an XMP packet)."""

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from mission.camera import PRESETS
from mission.geodesy import LocalFrame
from vision.errors import VisionError
from vision.photos import photo_frames, read_photo, read_photos
from vision.placement import Locator

LON, LAT = 149.165230, -35.363261
FRAME = LocalFrame(LON, LAT)


def dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    d = math.floor(value)
    m = math.floor((value - d) * 60)
    return float(d), float(m), round((value - d - m / 60) * 3600, 4)


def xmp_packet(tags: dict[str, float], elements: bool = False, extra: str = "") -> bytes:
    ns = 'xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/"'
    if elements:
        body = "".join(f"<drone-dji:{k}>{v:+.2f}</drone-dji:{k}>" for k, v in tags.items())
        desc = f'<rdf:Description rdf:about="" {ns}>{body}</rdf:Description>'
    else:
        attrs = " ".join(f'drone-dji:{k}="{v:+.2f}"' for k, v in tags.items())
        desc = f'<rdf:Description rdf:about="" {ns} {attrs}/>'
    return (
        f'<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>{extra}'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f"{desc}</rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    ).encode()


def make_photo(
    path: Path,
    lon: float | None = LON,
    lat: float | None = LAT,
    alt: float | None = 624.5,
    taken: str | None = "2024:05:01 11:30:00",
    offset: str | None = "+02:00",
    subsec: str | None = None,
    gps_stamp: tuple[str, tuple[float, float, float]] | None = None,
    direction: float | None = None,
    xmp: bytes | None = None,
    size: tuple[int, int] = (120, 80),
) -> Path:
    from PIL import ExifTags, Image

    image = Image.new("RGB", size, (40, 160, 60))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "DJI"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    if lat is not None and lon is not None:
        gps[ExifTags.GPS.GPSLatitudeRef] = "S" if lat < 0 else "N"
        gps[ExifTags.GPS.GPSLatitude] = dms(lat)
        gps[ExifTags.GPS.GPSLongitudeRef] = "W" if lon < 0 else "E"
        gps[ExifTags.GPS.GPSLongitude] = dms(lon)
    if alt is not None:
        gps[ExifTags.GPS.GPSAltitudeRef] = b"\x01" if alt < 0 else b"\x00"
        gps[ExifTags.GPS.GPSAltitude] = abs(alt)
    if gps_stamp is not None:
        gps[ExifTags.GPS.GPSDateStamp] = gps_stamp[0]
        gps[ExifTags.GPS.GPSTimeStamp] = gps_stamp[1]
    if direction is not None:
        gps[ExifTags.GPS.GPSImgDirectionRef] = "T"
        gps[ExifTags.GPS.GPSImgDirection] = direction
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    if taken is not None:
        sub[ExifTags.Base.DateTimeOriginal] = taken
    if offset is not None:
        sub[ExifTags.Base.OffsetTimeOriginal] = offset
    if subsec is not None:
        sub[ExifTags.Base.SubsecTimeOriginal] = subsec
    extra = {} if xmp is None else {"xmp": xmp}
    image.save(path, "JPEG", exif=exif, quality=90, **extra)
    return path


DJI = {
    "RelativeAltitude": 40.1,
    "AbsoluteAltitude": 624.5,
    "GimbalPitchDegree": -60.0,
    "GimbalYawDegree": 35.5,
    "GimbalRollDegree": 0.0,
    "FlightYawDegree": 33.0,
    "FlightPitchDegree": -4.0,
    "FlightRollDegree": 1.5,
}


def test_read_a_folder_of_dji_photos(tmp_path):
    for k in range(3):
        lon, lat = FRAME.point_to_wgs84(10.0 * k, 5.0)
        make_photo(
            tmp_path / f"DJI_{3 - k:04d}.JPG",  # names in the reverse of time order
            lon,
            lat,
            taken=f"2024:05:01 11:30:0{2 * k}",
            subsec="25",
            xmp=xmp_packet({**DJI, "GimbalYawDegree": 30.0 + k}, elements=k == 1),
        )
    (tmp_path / "notes.txt").write_text("not a photo")
    (tmp_path / "._DJI_0001.JPG").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    (tmp_path / "sub.jpg").mkdir()
    photos = read_photos(tmp_path)
    assert [Path(p.path).name for p in photos] == ["DJI_0003.JPG", "DJI_0002.JPG", "DJI_0001.JPG"]
    first = photos[0]
    assert first.time == datetime(2024, 5, 1, 9, 30, 0, 250000, tzinfo=UTC)
    assert not first.time_assumed_utc
    assert (first.lon, first.lat) == pytest.approx(FRAME.point_to_wgs84(0.0, 5.0), abs=1e-7)
    assert first.alt_amsl_m == 624.5 and first.alt_rel_m == pytest.approx(40.1)
    assert (first.width_px, first.height_px) == (120, 80)
    assert (first.gimbal_pitch_deg, first.flight_roll_deg) == (-60.0, 1.5)
    assert [p.gimbal_yaw_deg for p in photos] == [30.0, 31.0, 32.0]  # attributes or elements
    assert first.yaw_deg == 30.0
    sample = first.sample()
    assert (sample.alt_rel_m, sample.yaw_deg, sample.gimbal_pitch_deg) == (40.1, 30.0, -60.0)
    assert (sample.roll_deg, sample.pitch_deg, sample.time) == (1.5, -4.0, first.time)


def test_times_and_headings_without_the_usual_tags(tmp_path):
    utc_stamp = make_photo(
        tmp_path / "a.jpg", offset=None, gps_stamp=("2024:05:01", (9.0, 31.0, 2.5))
    )
    photo = read_photo(utc_stamp)
    assert photo.time == datetime(2024, 5, 1, 9, 31, 2, 500000, tzinfo=UTC)
    assert not photo.time_assumed_utc
    local = read_photo(make_photo(tmp_path / "b.jpg", offset=None))
    assert local.time == datetime(2024, 5, 1, 11, 30, tzinfo=UTC) and local.time_assumed_utc
    west = read_photo(make_photo(tmp_path / "c.jpg", offset="-0530", lon=-73.98, lat=40.75))
    assert west.time == datetime(2024, 5, 1, 17, 0, tzinfo=UTC)
    assert (west.lon, west.lat) == pytest.approx((-73.98, 40.75), abs=1e-7)
    below = read_photo(make_photo(tmp_path / "d.jpg", alt=-12.5, direction=271.5))
    assert below.alt_amsl_m == -12.5 and below.alt_rel_m is None
    assert below.yaw_deg == 271.5  # no XMP: EXIF GPSImgDirection
    flight = read_photo(make_photo(tmp_path / "e.jpg", xmp=xmp_packet({"FlightYawDegree": -170.0})))
    assert flight.yaw_deg == -170.0 and flight.sample(600.0).yaw_deg == 190.0
    assert flight.sample(ground_amsl_m=600.0).alt_rel_m == pytest.approx(24.5)


def one_line(call) -> str:
    with pytest.raises(VisionError) as caught:
        call()
    assert "\n" not in str(caught.value)
    return str(caught.value)


def test_refusals_name_the_file(tmp_path):
    cases = [
        (make_photo(tmp_path / "nogps.jpg", lon=None, lat=None), "no GPS position in its EXIF"),
        (make_photo(tmp_path / "nofix.jpg", lon=0.0, lat=0.0), "no GPS position"),
        (make_photo(tmp_path / "notime.jpg", taken=None), "no time in its EXIF"),
        (make_photo(tmp_path / "badtime.jpg", taken="yesterday noon"), "is not 'YYYY:MM:DD"),
        (
            make_photo(
                tmp_path / "dtd.jpg",
                xmp=xmp_packet(DJI, extra='<!DOCTYPE x [<!ENTITY a "aaaa">]>'),
            ),
            "DOCTYPE or ENTITY declaration is not allowed in a photo's XMP packet",
        ),
        (
            make_photo(
                tmp_path / "broken.jpg", xmp=xmp_packet(DJI).replace(b"</rdf:RDF>", b"</rdf:Bag>")
            ),
            "not well-formed",
        ),
    ]
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"\xff\xd8 not really a jpeg")
    cases.append((junk, "not a JPEG photo"))
    for path, message in cases:
        text = one_line(lambda path=path: read_photo(path))
        assert text.startswith(f"{path}: ") and message in text, text
    assert "no such folder" in one_line(lambda: read_photos(tmp_path / "nope"))
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "a.png").write_bytes(b"")
    assert "no photos in the folder" in one_line(lambda: read_photos(empty))
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    make_photo(mixed / "1.jpg")
    make_photo(mixed / "2.jpeg", lon=None, lat=None)
    assert one_line(lambda: read_photos(mixed)).startswith(f"{mixed / '2.jpeg'}: no GPS")
    plain = read_photo(make_photo(tmp_path / "plain.jpg"))
    assert "no camera heading" in one_line(lambda: plain.sample())
    headed = read_photo(make_photo(tmp_path / "headed.jpg", direction=10.0))
    assert "no height above the ground" in one_line(lambda: headed.sample())


def test_photos_become_frames_the_locator_places(tmp_path):
    for k in range(3):
        lon, lat = FRAME.point_to_wgs84(0.0, 20.0 * k)
        make_photo(
            tmp_path / f"P{k}.jpeg",
            lon,
            lat,
            taken=f"2024:05:01 11:30:{10 + 3 * k:02d}",
            xmp=xmp_packet({**DJI, "GimbalPitchDegree": -90.0, "GimbalYawDegree": 0.0}),
            size=(160, 120),
        )
    photos = read_photos(tmp_path)
    frames = list(photo_frames(photos, FRAME))
    assert [f.index for f in frames] == [0, 1, 2]
    assert [f.time_s for f in frames] == [0.0, 3.0, 6.0]
    assert frames[2].utc == datetime(2024, 5, 1, 9, 30, 16, tzinfo=UTC)
    image = frames[0].image
    assert image.shape == (120, 160, 3) and np.allclose(image[60, 80], (60, 160, 40), atol=6)
    locator = Locator(PRESETS["phantom4-rtk"], FRAME, 160, 120)
    for k, f in enumerate(frames):
        centre = locator.locate((70, 50, 90, 60), f.sample)  # bottom centre: the middle
        assert centre is not None
        assert (centre.x_m, centre.y_m) == pytest.approx(
            (0.0, 20.0 * k), abs=0.02
        )  # EXIF rationals
    assert frames[1].utc - frames[0].utc == timedelta(seconds=3)
    gone = photos[0]
    Path(gone.path).write_bytes(b"\xff\xd8\xff garbage")
    with pytest.raises(VisionError, match="does not decode"):
        list(photo_frames([gone], FRAME))
