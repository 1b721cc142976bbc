"""The clip behind 08-video-timeline.png, made from skimage's pictures: the astronaut panning
(8 s), a cut to the cameraman (5 s), a cut back to the astronaut (4 s); 640x360, 25 fps.

    .venv/bin/python docs/screenshots/make_video_clip.py /tmp/interview.mp4
    .venv/bin/python main.py /tmp/interview.mp4   # then click a point of the timeline
"""

import sys

import cv2
import numpy as np
from skimage import data

W, H, FPS = 640, 360, 25


def main(out: str) -> None:
    astro = cv2.resize(data.astronaut(), (1024, 1024))
    cam = cv2.resize(np.stack([data.camera()] * 3, -1), (1024, 1024))
    writer = cv2.VideoWriter(out, cv2.VideoWriter_fourcc(*"mp4v"), FPS, (W, H))
    scenes = [(astro, 8, lambda k: int(k * 300)), (cam, 5, lambda k: 200 + int(k * 80)),
              (astro, 4, lambda k: 300 - int(k * 100))]
    for picture, seconds, pan in scenes:
        n = seconds * FPS
        for i in range(n):
            x = pan(i / n)
            y = 30 if picture is cam else 60
            frame = np.ascontiguousarray(picture[y:y + H, x:x + W])
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()


if __name__ == "__main__":
    main(sys.argv[1])
